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

/* Prepares `cif` for a variadic function: `nfixed` fixed arguments, then the rest. */
static inline int cffi_prep_cif_var(ffi_cif *cif, unsigned nfixed, unsigned ntotal, ffi_type *result, ffi_type **args) {
    return ffi_prep_cif_var(cif, FFI_DEFAULT_ABI, nfixed, ntotal, result, args) == FFI_OK ? 0 : -1;
}

/* Makes `t` a struct type with the NULL-terminated `elements` and computes its size,
 * alignment and the fields' `offsets` (one per element). */
static inline int cffi_make_struct(ffi_type *t, ffi_type **elements, size_t *offsets) {
    t->size = 0;
    t->alignment = 0;
    t->type = FFI_TYPE_STRUCT;
    t->elements = elements;
    return ffi_get_struct_offsets(FFI_DEFAULT_ABI, t, offsets) == FFI_OK ? 0 : -1;
}

/* The function type of a closure's C entry. */
typedef void (*cffi_closure_fn)(ffi_cif *cif, void *result, void **args, void *user_data);

/* Allocates a closure calling `fn(cif, result, args, user_data)` through `cif`; returns the
 * closure (free it with cffi_closure_free) and sets `*code` to the C function pointer. */
static inline void *cffi_closure_new(ffi_cif *cif, cffi_closure_fn fn, void *user_data, void **code) {
    ffi_closure *closure = (ffi_closure *)ffi_closure_alloc(sizeof(ffi_closure), code);
    if (!closure) return 0;
    if (ffi_prep_closure_loc(closure, cif, fn, user_data, *code) != FFI_OK) {
        ffi_closure_free(closure);
        return 0;
    }
    return closure;
}

static inline void cffi_closure_free(void *closure) { ffi_closure_free(closure); }

#endif
