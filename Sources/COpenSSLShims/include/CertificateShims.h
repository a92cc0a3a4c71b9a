// Shims used by the certificate tooling (SidecarTLS/Certificate*.swift).
// Each is named COpenSSLShims_<the original name>; ownership is exactly the original's.
#ifndef SIDECAR_CERTIFICATE_SHIMS_H
#define SIDECAR_CERTIFICATE_SHIMS_H
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// sk_GENERAL_NAME_new_null: an empty GENERAL_NAMES stack; the caller owns it (free with GENERAL_NAMES_free).
STACK_OF(GENERAL_NAME) *COpenSSLShims_sk_GENERAL_NAME_new_null(void);
/// sk_GENERAL_NAME_push: appends name; on success (> 0) the stack owns it, on failure (0) the caller still does.
int COpenSSLShims_sk_GENERAL_NAME_push(STACK_OF(GENERAL_NAME) *stack, GENERAL_NAME *name);
/// XN_FLAG_RFC2253: X509_NAME_print_ex flags for the RFC 2253 form (`CN=client,O=example`).
unsigned long COpenSSLShims_XN_FLAG_RFC2253(void);

#endif
