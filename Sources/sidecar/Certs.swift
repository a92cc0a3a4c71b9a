import ArgumentParser

// Placeholder until the certificate tooling lands.
struct Certs: ParsableCommand {}
