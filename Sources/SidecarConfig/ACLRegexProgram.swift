/// A compiled `-m reg` expression: a program for a Thompson NFA, run by `matches(_:)` (see
/// `ACLRegexProgram+Match.swift`) in time linear in the value: at most `(scalars + 1) × instructions.count`
/// steps, whatever the expression. Immutable and `Sendable`, so one program serves every event loop without a
/// lock.
///
/// Why not Swift `Regex`: it backtracks, and `^(a+)+$` against 18 `a`s and a `!` took 12 s (×8 per two more
/// characters). A certificate CN is chosen by whoever requested the certificate, so with an operator's
/// `^([a-z0-9-]+\.?)+\.example\.com$` one client could hang an event loop.
package struct ACLRegexProgram: Sendable, Hashable {
    /// The most instructions a program may have: bounds the memory a configuration can ask for and the time of
    /// one match (steps per scalar).
    package static let instructionLimit = 20_000
    /// The largest count in `{m,n}`.
    package static let repetitionLimit = 1_000

    package let instructions: [Instruction]
    /// Whether scalars compare by their simple lower-case mappings (`-i` or a leading `(?i)`). Literal scalars
    /// in `instructions` are lower-cased already.
    package let ignoreCase: Bool

    /// One step of the program. Targets are indices in `instructions`.
    package enum Instruction: Sendable, Hashable {
        /// Consumes this scalar.
        case scalar(Unicode.Scalar)
        /// Consumes any scalar.
        case any
        /// Consumes a scalar of the set.
        case set(ACLRegexCharacterSet)
        /// Continues at both targets.
        case split(Int, Int)
        case jump(Int)
        /// Continues at the next instruction if the assertion holds at the current position; consumes nothing.
        case assert(Assertion)
        /// The expression has matched.
        case match
    }

    /// Zero-width tests on the position.
    package enum Assertion: Sendable, Hashable {
        /// `^`: the start of the value (POSIX without `REG_NEWLINE`: not after a newline).
        case start
        /// `$`: the very end of the value (not before a final newline, unlike PCRE's default).
        case end
        /// `\b`: a word character on exactly one side.
        case wordBoundary
        /// `\B`: not a word boundary.
        case notWordBoundary
    }

    /// Compiles `source`.
    /// - Throws: `ACLRegex.CompileError`, in the operator's words and with the 1-based position in `source`:
    ///   `unmatched ')' at 7`, `expression too large: ...`.
    package init(_ source: String, ignoreCase: Bool) throws(ACLRegex.CompileError) {
        var parser = ACLRegexParser(source, ignoreCase: ignoreCase)
        let root = try parser.parse()
        guard let size = root.instructionCount(limit: Self.instructionLimit - 1) else {
            throw ACLRegex.CompileError(
                message: "expression too large: it would need more than \(Self.instructionLimit) instructions "
                    + "(lower the repetition counts)")
        }
        var emitter = Emitter()
        emitter.instructions.reserveCapacity(size + 1)
        emitter.emit(root)
        emitter.instructions.append(.match)
        assert(emitter.instructions.count == size + 1, "instructionCount disagrees with the emitter")
        self.instructions = emitter.instructions
        self.ignoreCase = parser.ignoreCase
    }

    /// Translates nodes into instructions, the classic Thompson constructions.
    private struct Emitter {
        var instructions: [Instruction] = []

        mutating func emit(_ node: ACLRegexNode) {
            switch node {
            case .empty:
                break
            case .scalar(let scalar):
                instructions.append(.scalar(scalar))
            case .any:
                instructions.append(.any)
            case .set(let set):
                instructions.append(.set(set))
            case .assertion(let assertion):
                instructions.append(.assert(assertion))
            case .concatenation(let nodes):
                for node in nodes { emit(node) }
            case .alternation(let branches):
                // split L1, next; L1: branch; jump end; next: split L2, next2; ...; last branch; end:
                var jumpsToEnd: [Int] = []
                for (index, branch) in branches.enumerated() {
                    if index == branches.count - 1 {
                        emit(branch)
                    } else {
                        let split = instructions.count
                        instructions.append(.split(split + 1, -1))
                        emit(branch)
                        jumpsToEnd.append(instructions.count)
                        instructions.append(.jump(-1))
                        instructions[split] = .split(split + 1, instructions.count)
                    }
                }
                for jump in jumpsToEnd { instructions[jump] = .jump(instructions.count) }
            case .repetition(let body, let minimum, let maximum):
                if maximum == nil && minimum > 0 {
                    // `x{m,}`: m - 1 copies, then loop: body; split loop, out (no copy for the loop itself, so
                    // nested `+` do not double the program at each level).
                    for _ in 1..<minimum { emit(body) }
                    let loop = instructions.count
                    emit(body)
                    instructions.append(.split(loop, instructions.count + 1))
                    return
                }
                for _ in 0..<minimum { emit(body) }
                if let maximum {
                    // Optional copies: split body, out; body; (each skips straight to the end).
                    var splits: [Int] = []
                    for _ in minimum..<maximum {
                        splits.append(instructions.count)
                        instructions.append(.split(-1, -1))
                        emit(body)
                    }
                    for split in splits { instructions[split] = .split(split + 1, instructions.count) }
                } else {
                    // loop: split body, out; body; jump loop; out:
                    let loop = instructions.count
                    instructions.append(.split(-1, -1))
                    emit(body)
                    instructions.append(.jump(loop))
                    instructions[loop] = .split(loop + 1, instructions.count)
                }
            }
        }
    }
}
