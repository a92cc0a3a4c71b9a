/// The kind of section a statement belongs to.
package enum SectionKind: String, Sendable, Hashable, CaseIterable {
    case global, defaults, frontend, backend, listen

    /// Whether the section accepts frontend keywords (`bind`, `default_backend`, …).
    package var hasFrontend: Bool { self == .frontend || self == .listen || self == .defaults }
    /// Whether the section accepts backend keywords (`server`, `balance`, …).
    package var hasBackend: Bool { self == .backend || self == .listen || self == .defaults }
}
