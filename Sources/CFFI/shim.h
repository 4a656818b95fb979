// libffi for the plugin host's bridge. The accessors return the addresses of libffi's
// global type descriptors and wrap ffi_prep_cif with the platform's default ABI, so the
// Swift side never touches C globals or ABI enums directly.
#ifndef CAPSULE_CFFI_SHIM_H
#define CAPSULE_CFFI_SHIM_H

#include <ffi.h>

static inline ffi_type *cffi_type_void(void) { return &ffi_type_void; }
static inline ffi_type *cffi_type_uint8(void) { return &ffi_type_uint8; }
static inline ffi_type *cffi_type_sint8(void) { return &ffi_type_sint8; }
static inline ffi_type *cffi_type_uint16(void) { return &ffi_type_uint16; }
static inline ffi_type *cffi_type_sint16(void) { return &ffi_type_sint16; }
static inline ffi_type *cffi_type_uint32(void) { return &ffi_type_uint32; }
static inline ffi_type *cffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *cffi_type_uint64(void) { return &ffi_type_uint64; }
static inline ffi_type *cffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *cffi_type_float(void) { return &ffi_type_float; }
static inline ffi_type *cffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *cffi_type_pointer(void) { return &ffi_type_pointer; }

/* Prepares `cif` for a non-variadic function with the default calling convention. */
static inline int cffi_prep_cif(ffi_cif *cif, unsigned nargs, ffi_type *result, ffi_type **args) {
    return ffi_prep_cif(cif, FFI_DEFAULT_ABI, nargs, result, args) == FFI_OK ? 0 : -1;
}

#endif
