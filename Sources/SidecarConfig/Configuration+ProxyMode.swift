extension Configuration {
    /// The errors that keep this configuration from running in `mode`; empty when it fits.
    ///
    /// Forward (`sidecar forward`): every `bind` is plain and every server of a backend a frontend uses has
    /// `ssl`. Reverse (`sidecar reverse`): every `bind` has `ssl` with `verify required`, and every such
    /// server is plain. Each error names the offending line.
    public func validate(for mode: ProxyMode) -> [ConfigDiagnostic] {
        Validation.diagnostics(for: self, mode: mode)
    }
}
