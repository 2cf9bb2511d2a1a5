// The per-thread table of run-time formats behind Scalars' `RuntimeFloat`.
//
// Why C: Swift has no thread-local variables, and a task-local value costs a lookup per access.
// A `RuntimeFloat` operation reads its format on every rounding, so the read has to be a plain
// thread-local load (one `fs:`-relative load on x86-64) that the compiler can inline.
// `RuntimeFormats.withFormats` sets both pointers for the duration of a computation on one thread
// and restores the previous values afterwards; nothing else writes them.
#ifndef MANTISSA_RUNTIME_FORMAT_H
#define MANTISSA_RUNTIME_FORMAT_H

/// The hot-path parameters of every slot (an array of Swift `_RuntimeFormatEntry`), or NULL.
extern _Thread_local const void *mantissa_runtime_format_entries;
/// The Swift object that owns the entries and the formats' names (unretained), or NULL.
extern _Thread_local const void *mantissa_runtime_format_owner;

static inline const void *mantissa_runtime_format_entries_get(void) { return mantissa_runtime_format_entries; }
static inline void mantissa_runtime_format_entries_set(const void *entries) { mantissa_runtime_format_entries = entries; }
static inline const void *mantissa_runtime_format_owner_get(void) { return mantissa_runtime_format_owner; }
static inline void mantissa_runtime_format_owner_set(const void *owner) { mantissa_runtime_format_owner = owner; }

#endif
