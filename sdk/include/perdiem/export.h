/* PERDIEM_API marks the symbols the shared library exports; everything else is hidden. */
#ifndef PERDIEM_EXPORT_H
#define PERDIEM_EXPORT_H

#if defined(_WIN32)
#define PERDIEM_API
#else
#define PERDIEM_API __attribute__((visibility("default")))
#endif

#endif /* PERDIEM_EXPORT_H */
