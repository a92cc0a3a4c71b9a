// What the build knew about itself: the git commit and the Swift compiler, passed by Package.swift as C
// defines from the environment (SIDECAR_GIT_COMMIT, SIDECAR_SWIFT_VERSION; the Makefile sets both).
// Both functions return static strings; nothing to free.
#ifndef SIDECAR_CBUILDSTAMP_H
#define SIDECAR_CBUILDSTAMP_H

/// The commit the binary was built from, e.g. "4e61e9e0c2a1" or "4e61e9e0c2a1-modified"; "" if unknown.
const char *CBuildStamp_gitCommit(void);
/// The compiler's `swift --version` first line, e.g. "Swift version 6.3.1 (swift-6.3.1-RELEASE)"; "" if unknown.
const char *CBuildStamp_swiftVersion(void);

#endif
