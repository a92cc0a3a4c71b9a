/// The parsed form of a `-m reg` expression, between `ACLRegexParser` and `ACLRegexProgram`. Groups leave no
/// node of their own: nothing is captured, so `(ab)` and `(?:ab)` parse alike.
indirect enum ACLRegexNode: Sendable, Hashable {
    /// An empty expression or branch (`a|`, `()`): matches the empty string.
    case empty
    /// One scalar; lower-cased already when the expression ignores case.
    case scalar(Unicode.Scalar)
    /// `.`: any scalar, a newline included (POSIX, and PCRE2 with DOTALL).
    case any
    /// A bracket expression or a class escape (`\d`, `\W`).
    case set(ACLRegexCharacterSet)
    /// `^`, `$`, `\b`, `\B`.
    case assertion(ACLRegexProgram.Assertion)
    case concatenation([ACLRegexNode])
    case alternation([ACLRegexNode])
    /// `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` (greedy or lazy: the same for a yes/no answer). `maximum` nil is
    /// unbounded.
    case repetition(ACLRegexNode, minimum: Int, maximum: Int?)

    /// The number of instructions `ACLRegexProgram` emits for the node, or nil as soon as it exceeds `limit`:
    /// checked before anything is emitted, so `(a{1000}){1000}` is refused without building a million
    /// instructions.
    func instructionCount(limit: Int) -> Int? {
        let count: Int
        switch self {
        case .empty:
            count = 0
        case .scalar, .any, .set, .assertion:
            count = 1
        case .concatenation(let nodes):
            var total = 0
            for node in nodes {
                guard let size = node.instructionCount(limit: limit) else { return nil }
                total += size
                if total > limit { return nil }
            }
            count = total
        case .alternation(let branches):
            // Each branch but the last: a split before it and a jump after it.
            var total = 2 * (branches.count - 1)
            for branch in branches {
                guard let size = branch.instructionCount(limit: limit) else { return nil }
                total += size
                if total > limit { return nil }
            }
            count = total
        case .repetition(let node, let minimum, let maximum):
            guard let size = node.instructionCount(limit: limit) else { return nil }
            // `x{m,n}`: m copies, then `n - m` optional ones (split, body each). `x*`: split, body, jump.
            // `x{m,}`: m copies, the last followed by a split back to its start.
            if let maximum {
                count = minimum * size + (maximum - minimum) * (size + 1)
            } else if minimum == 0 {
                count = size + 2
            } else {
                count = minimum * size + 1
            }
        }
        return count > limit ? nil : count
    }
}
