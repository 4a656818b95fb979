/*
 * Script values in the worker: the host API's value functions over deep copies of the
 * script's values, and their wire encoding (values.c; docs/security.md#call-protocol).
 */
#ifndef CAPSULE_WORKER_VALUES_H
#define CAPSULE_WORKER_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "capsule.h"
#include "capsule_isolation.h"

/* `raise` fails the current call with a message (the worker's host->raise). */
void worker_values_init(void (*raise)(const char *));
/* Around each call of an export whose signature uses `value`. */
void worker_values_begin(void);
void worker_values_end(void);
/* A reference to the value encoded in p[0..<length], or CAPSULE_NO_VALUE when malformed. */
capsule_value worker_values_decode(const uint8_t *p, uint64_t length);
/* Encodes the value `ref` refers to into out; its length, or -1 with the reason in *why. */
int64_t worker_values_encode(capsule_value ref, uint8_t *out, uint64_t capacity, const char **why);

int worker_value_kind(capsule_value v);
const char *worker_value_type_name(capsule_value v);
int worker_value_bool(capsule_value v, bool *out);
int worker_value_int(capsule_value v, int64_t *out);
int worker_value_float(capsule_value v, double *out);
const char *worker_value_string(capsule_value v, size_t *length);
const uint8_t *worker_value_bytes(capsule_value v, size_t *length);
int64_t worker_value_length(capsule_value v);
capsule_value worker_list_get(capsule_value list, size_t index);
int worker_map_next(capsule_value map, size_t *cursor, capsule_value *key, capsule_value *value);
capsule_value worker_map_get(capsule_value map, capsule_value key);
capsule_value worker_new_nil(void);
capsule_value worker_new_bool(bool b);
capsule_value worker_new_int(int64_t i);
capsule_value worker_new_float(double d);
capsule_value worker_new_string(const char *data, size_t length);
capsule_value worker_new_bytes(const uint8_t *data, size_t length);
capsule_value worker_new_list(size_t capacity);
int worker_list_push(capsule_value list, capsule_value item);
capsule_value worker_new_map(void);
int worker_map_set(capsule_value map, capsule_value key, capsule_value value);
size_t worker_values_mark(void);
void worker_values_release(size_t mark);

#endif
