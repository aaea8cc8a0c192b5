#ifndef PETREL_COPENSSL_SHIM_H
#define PETREL_COPENSSL_SHIM_H
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/hmac.h>
#endif

/* ---- JWT signature verification (PetrelCrypto/JWT*.swift, JWKS*.swift) ----
 * Key construction stays in C because it juggles BIGNUM/OSSL_PARAM ownership and uses
 * macros Swift cannot import (EVP_PKEY_PUBLIC_KEY, OSSL_PKEY_PARAM_*). Every function
 * frees what it allocates; returned EVP_PKEY* belongs to the caller (EVP_PKEY_free). */
#ifndef PETREL_COPENSSL_JWT_SHIM_H
#define PETREL_COPENSSL_JWT_SHIM_H
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

/* RSA public key from big-endian JWK "n" and "e" (RFC 7518 §6.3.1). NULL on failure. */
static inline EVP_PKEY *petrel_jwt_rsa_public_key(const unsigned char *n, size_t n_len,
                                                   const unsigned char *e, size_t e_len) {
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (n_len == 0 || e_len == 0 || n_len > INT_MAX || e_len > INT_MAX) return NULL;
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL) goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)) goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) goto done;
    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL) goto done;
    if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL) goto done;
    if (EVP_PKEY_fromdata_init(ctx) <= 0) goto done;
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* P-256 public key from an uncompressed SEC1 point 0x04||x||y (65 bytes). NULL on failure. */
static inline EVP_PKEY *petrel_jwt_p256_public_key(const unsigned char *point, size_t point_len) {
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (point_len != 65 || point[0] != 0x04) return NULL;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL) goto done;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0)) goto done;
    if (!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len)) goto done;
    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL) goto done;
    if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL) goto done;
    if (EVP_PKEY_fromdata_init(ctx) <= 0) goto done;
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* 1 when the public key passes OpenSSL's checks (EC: point on the curve; RSA: sane n and e). */
static inline int petrel_jwt_public_check(EVP_PKEY *pkey) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok;
    if (ctx == NULL) return 0;
    ok = EVP_PKEY_public_check(ctx);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1;
}

/* JWS ES256 signatures are raw r||s (RFC 7518 §3.4); OpenSSL wants DER ECDSA-Sig-Value.
 * Writes at most out_cap bytes; returns the DER length, or 0 on failure. */
static inline size_t petrel_jwt_ecdsa_raw_to_der(const unsigned char *rs, size_t rs_len,
                                                  unsigned char *out, size_t out_cap) {
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    size_t half = rs_len / 2;
    int der_len;
    unsigned char *p = out;
    if (rs_len == 0 || rs_len % 2 != 0 || rs_len > INT_MAX) return 0;
    r = BN_bin2bn(rs, (int)half, NULL);
    s = BN_bin2bn(rs + half, (int)half, NULL);
    sig = ECDSA_SIG_new();
    if (r == NULL || s == NULL || sig == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return 0;
    }
    /* sig owns r and s now */
    der_len = i2d_ECDSA_SIG(sig, NULL);
    if (der_len <= 0 || (size_t)der_len > out_cap) {
        ECDSA_SIG_free(sig);
        return 0;
    }
    der_len = i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    return der_len > 0 ? (size_t)der_len : 0;
}
#endif /* PETREL_COPENSSL_JWT_SHIM_H */

/* ---- TLS over custom BIOs (PetrelLoop/TLS*.swift) ---- */
#ifndef PETREL_COPENSSL_TLS_SHIM_H
#define PETREL_COPENSSL_TLS_SHIM_H
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/tls1.h>

/* OpenSSL macros Swift cannot import (function-like macros and 64-bit option bits),
   wrapped for the TLS layer in PetrelLoop. */

static inline long petrel_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline int petrel_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int petrel_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long petrel_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long petrel_SSL_CTX_set_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *)) {
    return SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline long petrel_SSL_CTX_set_servername_arg(SSL_CTX *ctx, void *arg) {
    return SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline int petrel_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline int petrel_BIO_pending(BIO *bio) { return (int)BIO_pending(bio); }
static inline long petrel_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
static inline void petrel_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void petrel_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }

static const uint64_t petrel_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t petrel_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t petrel_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t petrel_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;

/* RFC 2253 distinguished names, UTF-8 kept as is (not escaped as \XX). */
static const unsigned long petrel_XN_FLAG_RFC2253_UTF8 = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
#endif /* PETREL_COPENSSL_TLS_SHIM_H */
