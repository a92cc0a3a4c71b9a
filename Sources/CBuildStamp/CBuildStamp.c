#include "CBuildStamp.h"

// Package.swift defines these only when the environment has them (a build from a tarball, or a plain
// `swift build`, has neither).
#ifndef SIDECAR_GIT_COMMIT
#define SIDECAR_GIT_COMMIT ""
#endif
#ifndef SIDECAR_SWIFT_VERSION
#define SIDECAR_SWIFT_VERSION ""
#endif

const char *CBuildStamp_gitCommit(void) { return SIDECAR_GIT_COMMIT; }
const char *CBuildStamp_swiftVersion(void) { return SIDECAR_SWIFT_VERSION; }
