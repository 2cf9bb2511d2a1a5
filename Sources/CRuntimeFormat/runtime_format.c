// Storage of the thread-local pointers declared in include/mantissa_runtime_format.h.
#include "mantissa_runtime_format.h"

_Thread_local const void *mantissa_runtime_format_entries = 0;
_Thread_local const void *mantissa_runtime_format_owner = 0;
