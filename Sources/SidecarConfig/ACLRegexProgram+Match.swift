extension ACLRegexProgram {
    /// Whether the program matches somewhere in `scalars` (a search: a new thread starts at every position), and
    /// how many steps that took.
    ///
    /// A Pike VM without captures: all threads advance together, one scalar at a time, and a thread list holds
    /// each instruction at most once per position, so the work is bounded by `(scalars.count + 1) ×
    /// instructions.count` whatever the expression; `steps` counts instructions entering a list, and tests hold
    /// it to that bound. Threads that meet at one instruction are merged, which is sound because only the yes/no
    /// answer is wanted.
    package func search(_ scalars: [Unicode.Scalar]) -> (matched: Bool, steps: Int) {
        var current = ThreadList(capacity: instructions.count)
        var next = ThreadList(capacity: instructions.count)
        var stack: [Int] = []
        var steps = 0
        for position in 0...scalars.count {
            // The search: a thread starting here, beside those that started earlier.
            if addThread(0, at: position, in: scalars, to: &current, stack: &stack, steps: &steps) {
                return (true, steps)
            }
            guard position < scalars.count else { break }
            let scalar = scalars[position]
            let folded = ignoreCase ? ACLRegexCharacterSet.lowercase(scalar) : scalar
            next.clear()
            for index in 0..<current.count {
                let pc = current.threads[index]
                let advances: Bool
                switch instructions[pc] {
                case .scalar(let expected): advances = folded == expected
                case .any: advances = true
                case .set(let set): advances = set.contains(scalar, ignoreCase: ignoreCase)
                case .split, .jump, .assert, .match: advances = false
                }
                if advances,
                    addThread(pc + 1, at: position + 1, in: scalars, to: &next, stack: &stack, steps: &steps)
                {
                    return (true, steps)
                }
            }
            swap(&current, &next)
        }
        return (false, steps)
    }

    /// Adds `pc` and everything reachable from it without consuming a scalar (splits, jumps, assertions that hold
    /// at `position`) to `list`. Returns true when that reaches `match`. Iterative, with `stack`, so a program of
    /// `instructionLimit` instructions cannot exhaust the thread's stack.
    private func addThread(
        _ pc: Int, at position: Int, in scalars: [Unicode.Scalar], to list: inout ThreadList, stack: inout [Int],
        steps: inout Int
    ) -> Bool {
        stack.removeAll(keepingCapacity: true)
        stack.append(pc)
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            steps += 1
            switch instructions[pc] {
            case .match:
                return true
            case .jump(let target):
                stack.append(target)
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .assert(let assertion):
                if holds(assertion, at: position, in: scalars) { stack.append(pc + 1) }
            case .scalar, .any, .set:
                break
            }
        }
        return false
    }

    private func holds(_ assertion: Assertion, at position: Int, in scalars: [Unicode.Scalar]) -> Bool {
        switch assertion {
        case .start:
            return position == 0
        case .end:
            return position == scalars.count
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && ACLRegexCharacterSet.isWord(scalars[position - 1])
            let after = position < scalars.count && ACLRegexCharacterSet.isWord(scalars[position])
            return (before != after) == (assertion == .wordBoundary)
        }
    }

    /// The threads at one position: a sparse set of instruction indices (Briggs and Torczon), cleared in constant
    /// time between positions.
    private struct ThreadList {
        private(set) var threads: [Int]
        private var slots: [Int]
        private(set) var count = 0

        init(capacity: Int) {
            threads = Array(repeating: 0, count: capacity)
            slots = Array(repeating: 0, count: capacity)
        }

        /// Adds `pc`; false if it was there already.
        mutating func insert(_ pc: Int) -> Bool {
            let slot = slots[pc]
            if slot < count && threads[slot] == pc { return false }
            slots[pc] = count
            threads[count] = pc
            count += 1
            return true
        }

        mutating func clear() { count = 0 }
    }
}
