/// The `if COND` / `unless COND` part of a rule: ACL terms combined as in HAProxy.
///
/// Terms written next to each other are AND-ed; `||` (or `or`) separates alternatives, which are OR-ed; `!`
/// negates the next term. AND binds tighter than OR and there are no parentheses, so a condition is a
/// disjunction of conjunctions, stored as such.
public struct Condition: Sendable, Hashable {
    /// `if` or `unless`.
    public enum Polarity: String, Sendable, Hashable {
        case `if`, unless
    }

    /// One ACL reference, possibly negated.
    public struct Term: Sendable, Hashable {
        /// The ACL name as written, or nil for `{ ... }`.
        public var name: String?
        /// Every `acl` line with that name (HAProxy OR-s them), or the one anonymous ACL.
        public var acls: [ACL]
        /// Written with `!`.
        public var negated: Bool

        public init(name: String?, acls: [ACL], negated: Bool) {
            self.name = name
            self.acls = acls
            self.negated = negated
        }
    }

    public var polarity: Polarity
    /// The alternatives: the condition holds when every term of at least one alternative holds
    /// (then `unless` inverts it).
    public var alternatives: [[Term]]

    public init(polarity: Polarity, alternatives: [[Term]]) {
        self.polarity = polarity
        self.alternatives = alternatives
    }

    /// Every ACL the condition uses, for checks at load.
    public var allACLs: [ACL] { alternatives.flatMap { $0.flatMap(\.acls) } }
}
