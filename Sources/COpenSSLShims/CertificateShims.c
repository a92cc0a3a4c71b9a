#include "CertificateShims.h"

STACK_OF(GENERAL_NAME) *COpenSSLShims_sk_GENERAL_NAME_new_null(void) { return sk_GENERAL_NAME_new_null(); }
int COpenSSLShims_sk_GENERAL_NAME_push(STACK_OF(GENERAL_NAME) *stack, GENERAL_NAME *name) {
    return sk_GENERAL_NAME_push(stack, name);
}
unsigned long COpenSSLShims_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
