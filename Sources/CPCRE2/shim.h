// The part of PCRE2's 8-bit API the `re` module uses, declared here because the machine image
// has PCRE2's runtime (libpcre2-8.so.0, package libpcre2-8-0) but not its header (the -dev
// package). Copied from PCRE2's documented API (pcre2api(3), pcre2.h of 10.42) with the
// PCRE2_CODE_UNIT_WIDTH 8 names; the library is linked by file name (-l:libpcre2-8.so.0) in
// Package.swift, so no development symlink is needed either.
#ifndef CAPSULE_CPCRE2_SHIM_H
#define CAPSULE_CPCRE2_SHIM_H

#include <stddef.h>
#include <stdint.h>

typedef uint8_t PCRE2_UCHAR8;
typedef const PCRE2_UCHAR8 *PCRE2_SPTR8;

typedef struct pcre2_real_general_context_8 pcre2_general_context_8;
typedef struct pcre2_real_compile_context_8 pcre2_compile_context_8;
typedef struct pcre2_real_match_context_8 pcre2_match_context_8;
typedef struct pcre2_real_code_8 pcre2_code_8;
typedef struct pcre2_real_match_data_8 pcre2_match_data_8;

// Compile options.
#define PCRE2_CASELESS          0x00000008u
#define PCRE2_DOTALL            0x00000020u
#define PCRE2_EXTENDED          0x00000080u
#define PCRE2_MULTILINE         0x00000400u
#define PCRE2_UCP               0x00020000u
#define PCRE2_UTF               0x00080000u
#define PCRE2_MATCH_INVALID_UTF 0x04000000u
// Match options.
#define PCRE2_NOTEMPTY_ATSTART  0x00000008u
#define PCRE2_NO_JIT            0x00002000u
#define PCRE2_ANCHORED          0x80000000u
// JIT.
#define PCRE2_JIT_COMPLETE      0x00000001u
// Errors.
#define PCRE2_ERROR_NOMATCH        (-1)
#define PCRE2_ERROR_JIT_STACKLIMIT (-46)
#define PCRE2_ERROR_MATCHLIMIT     (-47)
#define PCRE2_ERROR_DEPTHLIMIT     (-53)
#define PCRE2_ERROR_HEAPLIMIT      (-63)
// pcre2_pattern_info requests.
#define PCRE2_INFO_CAPTURECOUNT   4
#define PCRE2_INFO_NAMECOUNT     17
#define PCRE2_INFO_NAMEENTRYSIZE 18
#define PCRE2_INFO_NAMETABLE     19

pcre2_code_8 *pcre2_compile_8(PCRE2_SPTR8 pattern, size_t length, uint32_t options, int *errorcode,
                              size_t *erroroffset, pcre2_compile_context_8 *ccontext);
void pcre2_code_free_8(pcre2_code_8 *code);
int pcre2_jit_compile_8(pcre2_code_8 *code, uint32_t options);
int pcre2_pattern_info_8(const pcre2_code_8 *code, uint32_t what, void *where);
int pcre2_get_error_message_8(int errorcode, PCRE2_UCHAR8 *buffer, size_t bufflen);

pcre2_match_data_8 *pcre2_match_data_create_from_pattern_8(const pcre2_code_8 *code, pcre2_general_context_8 *gcontext);
void pcre2_match_data_free_8(pcre2_match_data_8 *match_data);
size_t *pcre2_get_ovector_pointer_8(pcre2_match_data_8 *match_data);
uint32_t pcre2_get_ovector_count_8(pcre2_match_data_8 *match_data);

pcre2_match_context_8 *pcre2_match_context_create_8(pcre2_general_context_8 *gcontext);
void pcre2_match_context_free_8(pcre2_match_context_8 *mcontext);
int pcre2_set_match_limit_8(pcre2_match_context_8 *mcontext, uint32_t value);
int pcre2_set_depth_limit_8(pcre2_match_context_8 *mcontext, uint32_t value);
int pcre2_set_heap_limit_8(pcre2_match_context_8 *mcontext, uint32_t value);

int pcre2_match_8(const pcre2_code_8 *code, PCRE2_SPTR8 subject, size_t length, size_t startoffset,
                  uint32_t options, pcre2_match_data_8 *match_data, pcre2_match_context_8 *mcontext);

#endif
