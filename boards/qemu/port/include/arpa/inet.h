// axTLS's os_port.h includes <arpa/inet.h> for byte order; bare metal has none, and the AES
// code uses only htonl/ntohl (the Cortex-M is little-endian).
#ifndef UPURSE_ARPA_INET_H
#define UPURSE_ARPA_INET_H
#include <stdint.h>
#define htonl(x) __builtin_bswap32(x)
#define ntohl(x) __builtin_bswap32(x)
#define htons(x) __builtin_bswap16(x)
#define ntohs(x) __builtin_bswap16(x)
#endif
