extension Parser {
    /// The rules `dbus-register-name` accepts.
    static let dbusRegisterRules = ["cn", "dns", "uri", "map"]

    /// `dbus-max-message-size SIZE`, `dbus-register-name cn|dns|uri|map FILE`,
    /// `dbus-register-method PATH INTERFACE MEMBER` (sidecar extensions; see `DBusSettings`).
    mutating func parseDBus(_ words: [String], into draft: inout ProxyDraft, at location: SourceLocation) {
        let keyword = words[0]
        switch keyword {
        case "dbus-max-message-size":
            guard let text = argument(words, 1, for: keyword, what: "a size such as 64k or 8m", at: location) else {
                return
            }
            guard let size = Self.size(text), (16...DBusSettings.specificationMaxMessageSize).contains(size) else {
                error(
                    "'dbus-max-message-size' expects a size from 16 bytes to 128m (a number with an optional k or m "
                        + "suffix), not '\(text)'",
                    at: location)
                return
            }
            draft.dbusMaxMessageSize = size
            expectEnd(words, after: 2, for: keyword, at: location)
        case "dbus-register-name":
            guard let name = argument(words, 1, for: keyword, what: "one of cn, dns, uri, map FILE", at: location)
            else { return }
            let rule: DBusRegisterName.Rule
            switch name {
            case "cn": rule = .cn
            case "dns": rule = .dns
            case "uri": rule = .uri
            case "map":
                guard let file = argument(words, 2, for: "dbus-register-name map", what: "a file", at: location)
                else { return }
                let path = Self.path(file, besides: location)
                switch DBusNameMap.load(path: path) {
                case .success(let names):
                    rule = .map(file: path, names: names)
                case .failure(let failure):
                    // A file that cannot be read is reported at the configuration line; malformed lines at
                    // their own place in the map file. The rule stays, with no names, so that the section's
                    // other findings are reported too.
                    for diagnostic in failure.diagnostics {
                        if diagnostic.location.line == 0 {
                            error(diagnostic.message, at: location)
                        } else {
                            record(diagnostic)
                        }
                    }
                    rule = .map(file: path, names: DBusNameMap())
                }
                expectEnd(words, after: 3, for: "dbus-register-name map", at: location)
                draft.dbusRegisterName = DBusRegisterName(rule: rule, location: location)
                return
            default:
                error(
                    "'dbus-register-name' expects cn, dns, uri or map FILE, not '\(name)'", at: location,
                    suggestion: EditDistance.suggestion(for: name, among: Self.dbusRegisterRules))
                return
            }
            expectEnd(words, after: 2, for: keyword, at: location)
            draft.dbusRegisterName = DBusRegisterName(rule: rule, location: location)
        default:
            guard words.count == 4 else {
                error(
                    "'dbus-register-method' expects an object path, an interface and a member, e.g. "
                        + "'dbus-register-method /org/eclipse/bluechi/internal org.eclipse.bluechi.internal.Controller "
                        + "Register'",
                    at: location)
                return
            }
            guard words[1].hasPrefix("/") else {
                error("'dbus-register-method': '\(words[1])' is not an object path (it starts with '/')", at: location)
                return
            }
            draft.dbusRegisterMethod = (DBusMethod(path: words[1], interface: words[2], member: words[3]), location)
        }
    }

    /// HAProxy's size syntax: a number of bytes with an optional `k`, `m` or `g` suffix (powers of 1024).
    static func size(_ text: String) -> Int? {
        var digits = Substring(text)
        var factor = 1
        switch digits.last {
        case "k", "K": factor = 1024
        case "m", "M": factor = 1024 * 1024
        case "g", "G": factor = 1024 * 1024 * 1024
        default: break
        }
        if factor != 1 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits), value >= 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
    }

    /// An absolute path as is; a relative one under the directory of the file being parsed.
    static func path(_ value: String, besides location: SourceLocation) -> String {
        guard !value.hasPrefix("/"), location.line > 0, let slash = location.file.lastIndex(of: "/") else {
            return value
        }
        return String(location.file[...slash]) + value
    }

    /// The frontend's D-Bus settings, with the checks that need the whole section: `dbus-register-name`
    /// needs `option dbus` and TLS binds with `verify required` (a reverse-side frontend).
    mutating func dbusSettings(from proxy: ProxyDraft, binds: [Bind]) -> DBusSettings? {
        if let register = proxy.dbusRegisterName {
            if !proxy.dbus {
                error(
                    "'dbus-register-name' needs 'option dbus' in this \(proxy.kind.rawValue) (or its defaults): names "
                        + "are read from the D-Bus stream", at: register.location)
            }
            for bind in binds {
                guard let tls = bind.tls else {
                    error(
                        "'dbus-register-name' applies to a reverse-side frontend, but bind '\(bind.address)' is plain "
                            + "(forward side): there is no client certificate to check the name against",
                        at: register.location)
                    continue
                }
                if tls.verify != .required {
                    error(
                        "'dbus-register-name' needs 'verify required' on bind '\(bind.address)': without a verified "
                            + "client certificate there is no name to allow", at: register.location)
                }
            }
        }
        if let method = proxy.dbusRegisterMethod, proxy.dbusRegisterName == nil {
            warning("'dbus-register-method' has no effect without 'dbus-register-name'", at: method.location)
        }
        guard proxy.dbus else { return nil }
        return DBusSettings(
            maxMessageSize: proxy.dbusMaxMessageSize, registerName: proxy.dbusRegisterName,
            registerMethod: proxy.dbusRegisterMethod?.method ?? .blueChiRegister)
    }
}
