/* The recurrent cells' backward on units [j, H) of one row, in plain scalar C, written once for
 * both element types: it is the whole float64 kernel (rnn.c, used by gradient checks) and the
 * tail after the vector loop of the float32 one (rnn_simd.c), so the two cannot drift apart.
 * Instantiated through each_dtype.h (T, SUF).  Pointers point at the row. */

/* LSTM.  With h = o*tanh(c), c = f*c' + i*g:
 *   dc += dh*o*(1 - tanh(c)^2);  d(o) = dh*tanh(c);  d(i) = dc*g;  d(g) = dc*i;  d(f) = dc*c'
 * each times its activation's derivative; dc' = dc*f is left in dc.  g and dg hold the four
 * gate blocks [i f g o], H apart. */
static inline void SUF(lstm_units_bwd)(size_t j, size_t H, const T *g, const T *tc, const T *cp,
                                       const T *dh, T *dc, T *dg)
{
    const T *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
    T *di = dg, *df = dg + H, *dgg = dg + 2 * H, *dO = dg + 3 * H;
    for (; j < H; j++) {
        T i = gi[j], f = gf[j], gc = gg[j], o = go[j], t = tc[j], d = dh[j];
        T dct = d * o * (1 - t * t) + dc[j];
        di[j] = dct * gc * (i * (1 - i));
        df[j] = dct * cp[j] * (f * (1 - f));
        dgg[j] = dct * i * (1 - gc * gc);
        dO[j] = d * t * (o * (1 - o));
        dc[j] = dct * f;
    }
}

/* GRU: dn = dh*(1-z)*(1-n^2) goes to xn, dn*r to hn; dr = dn*hn*r(1-r) and dz = dh*(h'-n)*z(1-z)
 * go to both sides alike; dh' = dh*z (the direct path).  g, dxg and dhg hold [r z n], H apart. */
static inline void SUF(gru_units_bwd)(size_t j, size_t H, const T *g, const T *hgn, const T *hp,
                                      const T *dh, T *dxg, T *dhg, T *dhp)
{
    const T *gr = g, *gz = g + H, *gn = g + 2 * H;
    for (; j < H; j++) {
        T r = gr[j], z = gz[j], nn = gn[j], d = dh[j], h = hp[j], hnv = hgn[j];
        T dn = d * (1 - z) * (1 - nn * nn);
        T dr = dn * hnv * (r * (1 - r));
        T dz = d * (h - nn) * (z * (1 - z));
        dxg[j] = dr; dxg[H + j] = dz; dxg[2 * H + j] = dn;
        dhg[j] = dr; dhg[H + j] = dz; dhg[2 * H + j] = dn * r;
        dhp[j] = d * z;
    }
}
