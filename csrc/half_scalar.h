/* IEEE half to float in scalar code (subnormals, inf and NaN included): the GGUF block scales
 * of the quantized GEMV/GEMM (2 bytes, little-endian, any alignment) and the tails of the f16
 * conversions where the CPU has no F16C. */
#ifndef DLCORE_HALF_SCALAR_H
#define DLCORE_HALF_SCALAR_H
#include <stdint.h>
#include <string.h>

static inline float half_bits_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0x1Fu) {
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else {
        float f = (float)man * (1.0f / 16777216.0f);   /* man * 2^-24, exact */
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

static inline float qp_half(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return half_bits_to_f32(h);
}

#endif
