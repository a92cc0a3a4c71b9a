#include "COpenSSLShims.h"
#include <openssl/evp.h>
#include <openssl/crypto.h>

long COpenSSLShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
long COpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
long COpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}
long COpenSSLShims_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
long COpenSSLShims_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return SSL_CTX_set1_groups_list(ctx, list);
}
long COpenSSLShims_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
long COpenSSLShims_SSL_CTX_sess_set_cache_size(SSL_CTX *ctx, long size) {
    return SSL_CTX_sess_set_cache_size(ctx, size);
}
void COpenSSLShims_SSL_CTX_set_no_ticket(SSL_CTX *ctx) { SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET); }
void COpenSSLShims_SSL_CTX_set_sidecar_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_max_early_data(ctx, 0);
}

void COpenSSLShims_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
void COpenSSLShims_BIO_set_retry_write(BIO *bio) { BIO_set_retry_write(bio); }
void COpenSSLShims_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }

int COpenSSLShims_sk_X509_num(const STACK_OF(X509) *stack) { return sk_X509_num(stack); }
X509 *COpenSSLShims_sk_X509_value(const STACK_OF(X509) *stack, int index) { return sk_X509_value(stack, index); }
int COpenSSLShims_sk_X509_OBJECT_num(const STACK_OF(X509_OBJECT) *stack) { return sk_X509_OBJECT_num(stack); }
X509_OBJECT *COpenSSLShims_sk_X509_OBJECT_value(const STACK_OF(X509_OBJECT) *stack, int index) {
    return sk_X509_OBJECT_value(stack, index);
}
int COpenSSLShims_sk_GENERAL_NAME_num(const STACK_OF(GENERAL_NAME) *stack) { return sk_GENERAL_NAME_num(stack); }
GENERAL_NAME *COpenSSLShims_sk_GENERAL_NAME_value(const STACK_OF(GENERAL_NAME) *stack, int index) {
    return sk_GENERAL_NAME_value(stack, index);
}
void COpenSSLShims_GENERAL_NAMES_free(STACK_OF(GENERAL_NAME) *stack) { GENERAL_NAMES_free(stack); }

const char *COpenSSLShims_OPENSSL_VERSION_TEXT(void) { return OPENSSL_VERSION_TEXT; }

void COpenSSLShims_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }

EVP_PKEY *COpenSSLShims_EVP_PKEY_Q_keygen_ec(const char *curve) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve); }
EVP_PKEY *COpenSSLShims_EVP_PKEY_Q_keygen_rsa(size_t bits) { return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits); }
