/* IEEE half (2 bytes, little-endian, any alignment) to float in scalar code: the GGUF block
 * scales of the packed quantized GEMV, read by its driver and its portable kernel alike. */
#ifndef DLCORE_HALF_SCALAR_H
#define DLCORE_HALF_SCALAR_H
#include <stdint.h>
#include <string.h>

static inline float qp_half(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0x1Fu) {
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else {
        float f = (float)man * (1.0f / 16777216.0f);
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

#endif
