// Functions standing in for OpenSSL macros and variadic calls that Swift cannot import.
// Each is named COpenSSLShims_<the original name> so the original can be looked up.
// None of them takes or gives ownership beyond what the original does.
#ifndef SIDECAR_COPENSSL_SHIMS_H
#define SIDECAR_COPENSSL_SHIMS_H

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include "CertificateShims.h"

long COpenSSLShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
long COpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
long COpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
long COpenSSLShims_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
long COpenSSLShims_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
long COpenSSLShims_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode);
long COpenSSLShims_SSL_CTX_sess_set_cache_size(SSL_CTX *ctx, long size);

/// Sets SSL_OP_NO_TICKET (no session tickets) on the context.
void COpenSSLShims_SSL_CTX_set_no_ticket(SSL_CTX *ctx);
/// Sets the options every sidecar context gets: no renegotiation, no compression,
/// server cipher preference; and turns off TLS 1.3 early data.
void COpenSSLShims_SSL_CTX_set_sidecar_defaults(SSL_CTX *ctx);

void COpenSSLShims_BIO_set_retry_read(BIO *bio);
void COpenSSLShims_BIO_set_retry_write(BIO *bio);
void COpenSSLShims_BIO_clear_retry_flags(BIO *bio);

int COpenSSLShims_sk_X509_num(const STACK_OF(X509) *stack);
X509 *COpenSSLShims_sk_X509_value(const STACK_OF(X509) *stack, int index);
int COpenSSLShims_sk_X509_OBJECT_num(const STACK_OF(X509_OBJECT) *stack);
/// sk_X509_OBJECT_value: borrowed from the stack (an X509_STORE's objects).
X509_OBJECT *COpenSSLShims_sk_X509_OBJECT_value(const STACK_OF(X509_OBJECT) *stack, int index);
int COpenSSLShims_sk_GENERAL_NAME_num(const STACK_OF(GENERAL_NAME) *stack);
GENERAL_NAME *COpenSSLShims_sk_GENERAL_NAME_value(const STACK_OF(GENERAL_NAME) *stack, int index);
/// Frees a GENERAL_NAMES stack returned by X509_get_ext_d2i (the caller owns it).
void COpenSSLShims_GENERAL_NAMES_free(STACK_OF(GENERAL_NAME) *stack);

/// OPENSSL_VERSION_TEXT: the version of the headers this was compiled against (a static string), which
/// can differ from the library loaded at run time (OpenSSL_version).
const char *COpenSSLShims_OPENSSL_VERSION_TEXT(void);

/// OPENSSL_free: frees memory that OpenSSL allocated and handed to the caller.
void COpenSSLShims_OPENSSL_free(void *pointer);

/// EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); the caller owns the result.
EVP_PKEY *COpenSSLShims_EVP_PKEY_Q_keygen_ec(const char *curve);
/// EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits); the caller owns the result.
EVP_PKEY *COpenSSLShims_EVP_PKEY_Q_keygen_rsa(size_t bits);

#endif
