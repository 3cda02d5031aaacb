/*
 * P-256 arithmetic for common.p256 as a MicroPython native module (py/dynruntime.h).
 *
 * Pure Python spends most of a P-256 operation allocating and freeing big integers; here the
 * same work runs on eight 32-bit limbs on the C stack, nothing on the heap but the result.
 * Field elements and scalars mod n are in Montgomery form (R = 2^256), one multiplication
 * routine (CIOS) serves both moduli. Points are Jacobian (X:Y:Z), a = -3.
 *
 *   mul(k, point)        k*P (P = G when point is None): 64 bytes x || y. CONSTANT TIME in k.
 *   mul2(u1, u2, point)  u1*G + u2*Q for public u1, u2 (verification): x || y, or None at
 *                        infinity. Variable time: nothing in it is secret.
 *   mul_n(a, b), add_n(a, b), inv_n(a)   mod-n arithmetic for ECDSA's s; constant time.
 *
 * Scalars and coordinates are 32 bytes big-endian, points 64 bytes x || y on the curve (the
 * caller, common.p256_group.decode_point, checks that). Constant time means: no branch and no
 * memory index depends on a secret; the loops and the table scan are the same for every k.
 */
#include "py/dynruntime.h"

#define LIMBS 8
typedef uint32_t fe[LIMBS];

typedef struct {
    uint32_t m[LIMBS];   // the modulus, least significant limb first
    uint32_t rr[LIMBS];  // R^2 mod m, to enter Montgomery form
    uint32_t m0;         // -m^-1 mod 2^32
} modulus_t;

static const modulus_t MOD_P = {
    {0xffffffff, 0xffffffff, 0xffffffff, 0x00000000, 0x00000000, 0x00000000, 0x00000001, 0xffffffff},
    {0x00000003, 0x00000000, 0xffffffff, 0xfffffffb, 0xfffffffe, 0xffffffff, 0xfffffffd, 0x00000004},
    0x00000001,
};
static const modulus_t MOD_N = {
    {0xfc632551, 0xf3b9cac2, 0xa7179e84, 0xbce6faad, 0xffffffff, 0xffffffff, 0x00000000, 0xffffffff},
    {0xbe79eea2, 0x83244c95, 0x49bd6fa6, 0x4699799c, 0x2b6bec59, 0x2845b239, 0xf3d95620, 0x66e12d94},
    0xee00bc4f,
};
// G in Montgomery form (x R mod p, y R mod p)
static const fe G_X = {0x18a9143c, 0x79e730d4, 0x5fedb601, 0x75ba95fc, 0x77622510, 0x79fb732b, 0xa53755c6, 0x18905f76};
static const fe G_Y = {0xce95560a, 0xddf25357, 0xba19e45c, 0x8b4ab8e4, 0xdd21f325, 0xd2e88688, 0x25885d85, 0x8571ff18};

typedef struct {
    fe x, y, z;
} jac_t;

// ---- multi-precision helpers -------------------------------------------------------------

static void fe_copy(uint32_t *r, const uint32_t *a) {
    for (int i = 0; i < LIMBS; i++) {
        r[i] = a[i];
    }
}

// r = mask ? a : b, mask all ones or zero
static void fe_select(uint32_t *r, uint32_t mask, const uint32_t *a, const uint32_t *b) {
    for (int i = 0; i < LIMBS; i++) {
        r[i] = (a[i] & mask) | (b[i] & ~mask);
    }
}

// r = a - b as 256-bit numbers; returns the borrow (0 or 1)
static uint32_t raw_sub(uint32_t *r, const uint32_t *a, const uint32_t *b) {
    uint32_t borrow = 0;
    for (int i = 0; i < LIMBS; i++) {
        uint64_t d = (uint64_t)a[i] - b[i] - borrow;
        r[i] = (uint32_t)d;
        borrow = (uint32_t)(d >> 63);
    }
    return borrow;
}

// r = (hi * 2^256 + t) mod m for a value below 2m
static void reduce_once(uint32_t *r, const uint32_t *t, uint32_t hi, const uint32_t *m) {
    fe d;
    uint32_t borrow = raw_sub(d, t, m);
    fe_select(r, -(borrow & (hi ^ 1)), t, d);  // keep t only if t < m
}

// Montgomery product r = a b R^-1 mod m (CIOS); r may alias a or b
static void mont_mul(uint32_t *r, const uint32_t *a, const uint32_t *b, const modulus_t *md) {
    uint32_t t[LIMBS + 2];
    const uint32_t *m = md->m;
    for (int i = 0; i < LIMBS + 2; i++) {
        t[i] = 0;
    }
    for (int i = 0; i < LIMBS; i++) {
        uint64_t c = 0;
        uint32_t bi = b[i];
        #pragma GCC unroll 8
        for (int j = 0; j < LIMBS; j++) {
            c += (uint64_t)a[j] * bi + t[j];
            t[j] = (uint32_t)c;
            c >>= 32;
        }
        c += t[LIMBS];
        t[LIMBS] = (uint32_t)c;
        t[LIMBS + 1] = (uint32_t)(c >> 32);
        uint32_t u = t[0] * md->m0;
        c = ((uint64_t)u * m[0] + t[0]) >> 32;
        #pragma GCC unroll 8
        for (int j = 1; j < LIMBS; j++) {
            c += (uint64_t)u * m[j] + t[j];
            t[j - 1] = (uint32_t)c;
            c >>= 32;
        }
        c += t[LIMBS];
        t[LIMBS - 1] = (uint32_t)c;
        t[LIMBS] = t[LIMBS + 1] + (uint32_t)(c >> 32);
    }
    reduce_once(r, t, t[LIMBS], m);
}

static void mod_add(uint32_t *r, const uint32_t *a, const uint32_t *b, const uint32_t *m) {
    fe t;
    uint64_t c = 0;
    for (int i = 0; i < LIMBS; i++) {
        c += (uint64_t)a[i] + b[i];
        t[i] = (uint32_t)c;
        c >>= 32;
    }
    reduce_once(r, t, (uint32_t)c, m);
}

static void mod_sub(uint32_t *r, const uint32_t *a, const uint32_t *b, const uint32_t *m) {
    fe t;
    uint32_t mask = -raw_sub(t, a, b);
    uint64_t c = 0;
    for (int i = 0; i < LIMBS; i++) {
        c += (uint64_t)t[i] + (m[i] & mask);
        r[i] = (uint32_t)c;
        c >>= 32;
    }
}

// a^(m-2) = a^-1 mod m (Fermat; m is prime), Montgomery form in and out. The exponent is
// public, so the square-and-multiply pattern is the same for every a.
static void mod_inv(uint32_t *r, const uint32_t *a, const modulus_t *md) {
    fe e, acc, base;
    fe_copy(e, md->m);
    e[0] -= 2;  // the lowest limb of p and of n is above 2: no borrow
    fe_copy(base, a);
    fe_copy(acc, base);  // the top bit of m - 2 is set
    for (int bit = 254; bit >= 0; bit--) {
        mont_mul(acc, acc, acc, md);
        if ((e[bit >> 5] >> (bit & 31)) & 1) {
            mont_mul(acc, acc, base, md);
        }
    }
    fe_copy(r, acc);
}

static void to_mont(uint32_t *r, const uint32_t *a, const modulus_t *md) {
    mont_mul(r, a, md->rr, md);
}

static void from_mont(uint32_t *r, const uint32_t *a, const modulus_t *md) {
    static const fe one = {1};
    mont_mul(r, a, one, md);
}

static uint32_t fe_is_zero(const uint32_t *a) {
    uint32_t acc = 0;
    for (int i = 0; i < LIMBS; i++) {
        acc |= a[i];
    }
    return ((acc | -acc) >> 31) ^ 1;  // 1 if zero, branch free
}

// 1 if a < b (constant time)
static uint32_t fe_less(const uint32_t *a, const uint32_t *b) {
    fe d;
    return raw_sub(d, a, b);
}

#define fmul(r, a, b) mont_mul((r), (a), (b), &MOD_P)
#define fsqr(r, a) mont_mul((r), (a), (a), &MOD_P)
#define fadd(r, a, b) mod_add((r), (a), (b), MOD_P.m)
#define fsub(r, a, b) mod_sub((r), (a), (b), MOD_P.m)

// y = flag ? p - y : y (flag 0 or 1)
static void cond_neg(uint32_t *y, uint32_t flag) {
    static const fe zero = {0};
    fe ny;
    fsub(ny, zero, y);
    fe_select(y, -flag, ny, y);
}

// ---- group law ------------------------------------------------------------------------------

// r = 2p, a = -3 (EFD dbl-2001-b); r may alias p
static void point_double(jac_t *r, const jac_t *p) {
    fe delta, gamma, beta, alpha, t1, t2;
    fsqr(delta, p->z);
    fsqr(gamma, p->y);
    fmul(beta, p->x, gamma);
    fsub(t1, p->x, delta);
    fadd(t2, p->x, delta);
    fmul(alpha, t1, t2);
    fadd(t1, alpha, alpha);
    fadd(alpha, t1, alpha);  // alpha = 3 (x - delta)(x + delta)
    fmul(t1, p->y, p->z);
    fadd(r->z, t1, t1);  // z3 = 2 y z
    fadd(beta, beta, beta);
    fadd(beta, beta, beta);  // 4 beta
    fsqr(t1, alpha);
    fadd(t2, beta, beta);
    fsub(r->x, t1, t2);  // x3 = alpha^2 - 8 beta
    fsub(t1, beta, r->x);
    fmul(t1, alpha, t1);
    fsqr(gamma, gamma);
    fadd(gamma, gamma, gamma);
    fadd(gamma, gamma, gamma);
    fadd(gamma, gamma, gamma);
    fsub(r->y, t1, gamma);  // y3 = alpha (4 beta - x3) - 8 gamma^2
}

// r = a + b (EFD add-1998-cmo-2), neither at infinity; r may alias a or b. Returns 1 (computed
// without branching) when h = 0, that is a = +-b: then r is not the sum and the caller takes
// the special case (a = b: the sum is 2a; a = -b: infinity).
static uint32_t point_add(jac_t *r, const jac_t *a, const jac_t *b) {
    fe z1z1, z2z2, u1, u2, s1, s2, h, rr, t;
    fsqr(z1z1, a->z);
    fsqr(z2z2, b->z);
    fmul(u1, a->x, z2z2);
    fmul(u2, b->x, z1z1);
    fmul(s1, a->y, b->z);
    fmul(s1, s1, z2z2);
    fmul(s2, b->y, a->z);
    fmul(s2, s2, z1z1);
    fsub(h, u2, u1);
    fsub(rr, s2, s1);
    fmul(t, a->z, b->z);
    fmul(r->z, t, h);  // z3 = z1 z2 h
    fsqr(z1z1, h);  // hh
    fmul(z2z2, h, z1z1);  // hhh
    fmul(u2, u1, z1z1);  // v = u1 hh
    fsqr(t, rr);
    fsub(t, t, z2z2);
    fsub(t, t, u2);
    fsub(r->x, t, u2);  // x3 = r^2 - hhh - 2 v
    fsub(t, u2, r->x);
    fmul(t, rr, t);
    fmul(s1, s1, z2z2);
    fsub(r->y, t, s1);  // y3 = r (v - x3) - s1 hhh
    return fe_is_zero(h);
}

// table[i] = (2i + 1) P for i < 8, from affine P in Montgomery form
static void odd_multiples(jac_t *table, const uint32_t *x, const uint32_t *y) {
    jac_t twice;
    fe_copy(table[0].x, x);
    fe_copy(table[0].y, y);
    to_mont(table[0].z, (const uint32_t[LIMBS]) {1}, &MOD_P);
    point_double(&twice, &table[0]);
    for (int i = 1; i < 8; i++) {
        point_add(&table[i], &table[i - 1], &twice);
    }
}

// r = table[idx] for a secret idx < 8: every entry is read, masks pick one
static void lookup(jac_t *r, const jac_t *table, uint32_t idx) {
    for (int l = 0; l < LIMBS; l++) {
        r->x[l] = r->y[l] = r->z[l] = 0;
    }
    for (uint32_t j = 0; j < 8; j++) {
        uint32_t mask = -(((j ^ idx) - 1) >> 31);  // all ones iff j == idx
        for (int l = 0; l < LIMBS; l++) {
            r->x[l] |= table[j].x[l] & mask;
            r->y[l] |= table[j].y[l] & mask;
            r->z[l] |= table[j].z[l] & mask;
        }
    }
}

// (x, y) affine, out of Montgomery form, of Jacobian p (z != 0)
static void to_affine(uint32_t *x, uint32_t *y, const jac_t *p) {
    fe zi, zi2;
    mod_inv(zi, p->z, &MOD_P);
    fsqr(zi2, zi);
    fmul(x, p->x, zi2);
    fmul(zi2, zi2, zi);
    fmul(y, p->y, zi2);
    from_mont(x, x, &MOD_P);
    from_mont(y, y, &MOD_P);
}

// k P for 1 <= k < n, constant time in k. k is made odd (k or n - k, the result negated
// back), then recoded into 64 signed odd digits d_i = (((k >> 4i) & 31) | 1) - 16 under a top
// digit 1 (Joye-Tunstall regular recoding): every window is 4 doublings and one addition of
// a table point chosen by scanning the whole table. For k < n no partial sum but the last
// meets +-the point it is added to (the partial sums stay below n/16), and the last can only
// equal it, which the final step handles by computing both and selecting.
static void scalar_mult(uint32_t *outx, uint32_t *outy, const uint32_t *k_in,
    const uint32_t *px, const uint32_t *py) {
    jac_t table[8], acc, t;
    fe k, nk;
    odd_multiples(table, px, py);
    uint32_t even = (k_in[0] & 1) ^ 1;
    raw_sub(nk, MOD_N.m, k_in);
    fe_select(k, -even, nk, k_in);
    acc = table[0];
    for (int i = 63; i >= 0; i--) {
        for (int j = 0; j < 4; j++) {
            point_double(&acc, &acc);
        }
        int bit = 4 * i, limb = bit >> 5, off = bit & 31;
        uint32_t v = k[limb] >> off;
        if (off > 27 && limb < LIMBS - 1) {
            v |= k[limb + 1] << (32 - off);
        }
        v = (v & 31) | 1;
        uint32_t neg = ((v - 16) >> 31) & 1;  // digit v - 16 < 0
        uint32_t idx = (((v - 16) ^ -neg) + neg) >> 1;  // |digit| = 2 idx + 1
        lookup(&t, table, idx);
        cond_neg(t.y, neg);
        if (i) {
            point_add(&acc, &acc, &t);
        } else {  // the last partial sum is t itself for k = n - 2 |d_0| (or 2 |d_0|, made odd)
            jac_t twice;
            point_double(&twice, &t);
            uint32_t same = -point_add(&acc, &acc, &t);
            fe_select(acc.x, same, twice.x, acc.x);
            fe_select(acc.y, same, twice.y, acc.y);
            fe_select(acc.z, same, twice.z, acc.z);
        }
    }
    to_affine(outx, outy, &acc);
    cond_neg(outy, even);
}

// ---- verification: u1 G + u2 Q, public scalars ----------------------------------------------

#define NAF_LEN 257

// width-5 NAF of 0 <= k < n, lowest digit first (variable time: k is public)
static void wnaf5(int8_t *out, const uint32_t *k_in) {
    uint32_t k[LIMBS + 1];
    for (int i = 0; i < LIMBS; i++) {
        k[i] = k_in[i];
    }
    k[LIMBS] = 0;
    for (int i = 0; i < NAF_LEN; i++) {
        int32_t d = 0;
        if (k[0] & 1) {
            d = k[0] & 31;
            if (d >= 16) {
                d -= 32;
            }
            // k -= d: d < 0 adds, carries ripple; d > 0 never borrows past limb 0 (k & 31 >= d)
            if (d < 0) {
                uint64_t c = (uint64_t)(uint32_t)-d;
                for (int l = 0; l <= LIMBS && c; l++) {
                    c += k[l];
                    k[l] = (uint32_t)c;
                    c >>= 32;
                }
            } else {
                k[0] -= (uint32_t)d;
            }
        }
        out[i] = (int8_t)d;
        for (int l = 0; l < LIMBS; l++) {
            k[l] = (k[l] >> 1) | (k[l + 1] << 31);
        }
        k[LIMBS] >>= 1;
    }
}

// acc += (d > 0 ? table[d/2] : -table[-d/2]); *inf tracks the point at infinity
static void add_digit(jac_t *acc, int *inf, const jac_t *table, int d) {
    jac_t t = table[(d < 0 ? -d : d) >> 1];
    if (d < 0) {
        cond_neg(t.y, 1);
    }
    if (*inf) {
        *acc = t;
        *inf = 0;
    } else {
        jac_t before = *acc;
        if (point_add(acc, &before, &t)) {  // acc = +-t: doubles or cancels
            fe s1, s2, zz;
            fsqr(zz, t.z);
            fmul(s1, before.y, t.z);
            fmul(s1, s1, zz);
            fsqr(zz, before.z);
            fmul(s2, t.y, before.z);
            fmul(s2, s2, zz);
            fsub(s1, s2, s1);
            if (fe_is_zero(s1)) {
                point_double(acc, &before);
            } else {
                *inf = 1;
            }
        }
    }
}

// ---- Python interface -----------------------------------------------------------------------

static void get_fe(uint32_t *r, mp_obj_t obj, size_t len, size_t offset) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(obj, &buf, MP_BUFFER_READ);
    if (buf.len != len) {
        mp_raise_ValueError(MP_ERROR_TEXT("length"));
    }
    const uint8_t *b = (const uint8_t *)buf.buf + offset;
    for (int i = 0; i < LIMBS; i++) {
        const uint8_t *w = b + 28 - 4 * i;
        r[i] = ((uint32_t)w[0] << 24) | ((uint32_t)w[1] << 16) | ((uint32_t)w[2] << 8) | w[3];
    }
}

static void put_fe(uint8_t *b, const uint32_t *a) {
    for (int i = 0; i < LIMBS; i++) {
        uint8_t *w = b + 28 - 4 * i;
        w[0] = a[i] >> 24;
        w[1] = a[i] >> 16;
        w[2] = a[i] >> 8;
        w[3] = a[i];
    }
}

// a scalar 0 <= k < n (nonzero unless zero_ok)
static void get_scalar(uint32_t *k, mp_obj_t obj, int zero_ok) {
    get_fe(k, obj, 32, 0);
    if (!fe_less(k, MOD_N.m) || (!zero_ok && fe_is_zero(k))) {
        mp_raise_ValueError(MP_ERROR_TEXT("scalar out of range"));
    }
}

// an affine point x || y (64 bytes), into Montgomery form
static void get_point(uint32_t *x, uint32_t *y, mp_obj_t obj) {
    get_fe(x, obj, 64, 0);
    get_fe(y, obj, 64, 32);
    if (!fe_less(x, MOD_P.m) || !fe_less(y, MOD_P.m)) {
        mp_raise_ValueError(MP_ERROR_TEXT("coordinate out of range"));
    }
    to_mont(x, x, &MOD_P);
    to_mont(y, y, &MOD_P);
}

static mp_obj_t new_point(const uint32_t *x, const uint32_t *y) {
    uint8_t out[64];
    put_fe(out, x);
    put_fe(out + 32, y);
    return mp_obj_new_bytes(out, 64);
}

static mp_obj_t p256_mul(mp_obj_t k_obj, mp_obj_t point_obj) {
    fe k, x, y;
    get_scalar(k, k_obj, 0);
    if (point_obj == mp_const_none) {
        fe_copy(x, G_X);
        fe_copy(y, G_Y);
    } else {
        get_point(x, y, point_obj);
    }
    scalar_mult(x, y, k, x, y);
    return new_point(x, y);
}
static MP_DEFINE_CONST_FUN_OBJ_2(p256_mul_obj, p256_mul);

static mp_obj_t p256_mul2(mp_obj_t u1_obj, mp_obj_t u2_obj, mp_obj_t point_obj) {
    fe u1, u2, x, y;
    jac_t tg[8], tq[8], acc;
    int8_t n1[NAF_LEN], n2[NAF_LEN];
    get_scalar(u1, u1_obj, 1);
    get_scalar(u2, u2_obj, 1);
    get_point(x, y, point_obj);
    odd_multiples(tq, x, y);
    odd_multiples(tg, G_X, G_Y);
    wnaf5(n1, u1);
    wnaf5(n2, u2);
    int inf = 1;
    for (int i = NAF_LEN - 1; i >= 0; i--) {
        if (!inf) {
            point_double(&acc, &acc);
        }
        if (n1[i]) {
            add_digit(&acc, &inf, tg, n1[i]);
        }
        if (n2[i]) {
            add_digit(&acc, &inf, tq, n2[i]);
        }
    }
    if (inf) {
        return mp_const_none;
    }
    to_affine(x, y, &acc);
    return new_point(x, y);
}
static MP_DEFINE_CONST_FUN_OBJ_3(p256_mul2_obj, p256_mul2);

// mod-n operands in Montgomery form: a R, b R -> (a b) R; the caller's plain values are
// converted on the way in and out
static mp_obj_t new_scalar(const uint32_t *a_mont) {
    fe a;
    uint8_t out[32];
    from_mont(a, a_mont, &MOD_N);
    put_fe(out, a);
    return mp_obj_new_bytes(out, 32);
}

static mp_obj_t p256_mul_n(mp_obj_t a_obj, mp_obj_t b_obj) {
    fe a, b;
    get_scalar(a, a_obj, 1);
    get_scalar(b, b_obj, 1);
    to_mont(a, a, &MOD_N);
    to_mont(b, b, &MOD_N);
    mont_mul(a, a, b, &MOD_N);
    return new_scalar(a);
}
static MP_DEFINE_CONST_FUN_OBJ_2(p256_mul_n_obj, p256_mul_n);

static mp_obj_t p256_add_n(mp_obj_t a_obj, mp_obj_t b_obj) {
    fe a, b;
    get_scalar(a, a_obj, 1);
    get_scalar(b, b_obj, 1);
    mod_add(a, a, b, MOD_N.m);
    to_mont(a, a, &MOD_N);
    return new_scalar(a);
}
static MP_DEFINE_CONST_FUN_OBJ_2(p256_add_n_obj, p256_add_n);

static mp_obj_t p256_inv_n(mp_obj_t a_obj) {
    fe a;
    get_scalar(a, a_obj, 0);
    to_mont(a, a, &MOD_N);
    mod_inv(a, a, &MOD_N);
    return new_scalar(a);
}
static MP_DEFINE_CONST_FUN_OBJ_1(p256_inv_n_obj, p256_inv_n);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_mul, MP_OBJ_FROM_PTR(&p256_mul_obj));
    mp_store_global(MP_QSTR_mul2, MP_OBJ_FROM_PTR(&p256_mul2_obj));
    mp_store_global(MP_QSTR_mul_n, MP_OBJ_FROM_PTR(&p256_mul_n_obj));
    mp_store_global(MP_QSTR_add_n, MP_OBJ_FROM_PTR(&p256_add_n_obj));
    mp_store_global(MP_QSTR_inv_n, MP_OBJ_FROM_PTR(&p256_inv_n_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
