# Tidies the mdoc page swift-argument-parser's generate-manual writes from the commands' help text, so that
# mandoc -T lint and groff print no warning: a blank line becomes a paragraph break (.Pp, unless a list
# item or display follows, which breaks anyway), lines indented in the help text (the examples) become a
# literal display, and each sentence starts a new line, as mdoc wants. POSIX awk (mawk, gawk): make runs
# it, in Debian's and Fedora's build roots alike.
function flush_literal() {
    if (literal) { print ".Ed"; literal = 0 }
}
function paragraph(next_line) {
    if (pending && next_line !~ /^\.(It|Bd|El|Sh|Ss)/) print ".Pp"
    pending = 0
}
/^$/ || /^\.Pp$/ { flush_literal(); pending = 1; next }
/^  / {
    if (!literal) { paragraph(".Bd"); print ".Bd -literal -offset indent"; literal = 1 }
    print substr($0, 3)
    next
}
/^\./ { flush_literal(); paragraph($0); print; next }
{
    flush_literal()
    paragraph($0)
    line = $0
    while (match(line, /[.?!:] +[A-Z]/)) {
        print substr(line, 1, RSTART)
        line = substr(line, RSTART + RLENGTH - 1)
    }
    print line
}
END { flush_literal() }
