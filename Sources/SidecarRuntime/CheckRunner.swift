import SidecarConfig
import SidecarProxy
import SidecarSystemd

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `sidecar check`: the configuration check of `SidecarConfig`, plus (unless syntax only) building the
/// plan as a start would, so unreadable certificates and unresolvable servers are found too.
public enum CheckRunner {
    public static func check(paths: [String], mode: ProxyMode?, loadFiles: Bool) -> ConfigCheck {
        var result = ConfigCheck(paths: paths, mode: mode)
        guard loadFiles, let configuration = result.configuration else { return result }
        do {
            let findings = try ProxyPlan(configuration: configuration).certificateFindings()
            // The limit `check` itself may raise to; a service's is its unit's LimitNOFILE.
            let budget = DescriptorBudget(configuration: configuration, descriptorLimit: DescriptorLimit.current().hard)
            let verdict = result.lines.removeLast()
            result.lines.append(
                "\(budget.summary) (with this process's hard limit; a unit's LimitNOFILE= sets its own)")
            if let warning = budget.warning { result.lines.append("warning: \(warning)") }
            result.lines.append(verdict)
            if !findings.isEmpty {
                let verdict = result.lines.removeLast()
                result.lines += findings.map(\.description)
                let expired = findings.contains { $0.severity == .error }
                result.lines.append(expired ? "configuration invalid: a configured certificate has expired" : verdict)
                if expired { result.isValid = false }
            }
        } catch {
            let verdict = result.lines.removeLast()
            result.lines.append("\(error)".contains(": error: ") ? "\(error)" : Self.asDiagnostic(error))
            result.lines.append(verdict.replacingFirst("configuration valid", with: "configuration invalid (files)"))
            result.isValid = false
            result.configuration = nil
        }
        return result
    }

    private static func asDiagnostic(_ error: any Error) -> String {
        if let error = error as? ProxyError, let location = error.location {
            return "\(location): error: \(error.message)"
        }
        return "error: \(error)"
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var result = self
        result.replaceSubrange(range, with: replacement)
        return result
    }
}
