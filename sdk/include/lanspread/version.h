/* lanspread plugin SDK — ABI version numbers.
 *
 * Pure C (C11 and C++20 clean), no dependencies. The major is also baked into the name of
 * the one exported entry symbol (lanspread_plugin_v1); the minor grows by one for every
 * member appended to a published struct. See docs/ABI.md for the policy. */
#ifndef LANSPREAD_VERSION_H
#define LANSPREAD_VERSION_H

/* A plugin with another major is never loaded. */
#define LANSPREAD_ABI_MAJOR 1

/* A plugin built against a newer minor than the kernel's is refused ("built against a newer
 * SDK"); one built against an older minor loads, and the members it does not know read as
 * zero/NULL. History: 1.0 — first layout; 1.1 — descriptor.config_keys appended. */
#define LANSPREAD_ABI_MINOR 1

/* The SDK release (headers, wrapper, fake host); independent of the ABI numbers. */
#define LANSPREAD_SDK_VERSION_STRING "1.1.0"

#endif /* LANSPREAD_VERSION_H */
