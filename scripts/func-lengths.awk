# func-lengths.awk: the length of every C function definition, for `make check`.
#   awk -f scripts/func-lengths.awk csrc/*.c               prints "lines file:line name", one a function
#   awk -v max=90 -f scripts/func-lengths.awk csrc/*.c     prints only those over max lines; exits 1 if any
# A function's length counts every line (blank and comment lines too) from the first line of its
# signature to its closing brace, both included. It relies on the project's layout (clang-format's):
# a definition starts at column 0 with an identifier and holds a '(' (not a preprocessor line, nor a
# typedef/struct/enum/union), and ends with a line that is exactly "}". A column-0 line ending in ';'
# (a prototype, a file-scope object) cancels a candidate start.
function report() {
    len = FNR - start + 1
    if (max == "" || len > max) {
        printf "%4d %s:%d %s\n", len, FILENAME, start, name
        if (max != "") over++
    }
    start = 0
}
FNR == 1 { start = 0 }
/^[A-Za-z_]/ && !/^(typedef|struct|enum|union)[ \t{]/ {
    if (/;[ \t]*$/) { start = 0; next }
    if (!start && index($0, "(")) {
        start = FNR
        name = $0
        sub(/[ \t]*\(.*/, "", name)
        sub(/.*[ \t*]/, "", name)
    }
    next
}
/^}[ \t]*$/ { if (start) report(); next }
/^}/ { start = 0 }
END { if (over) { printf "%d function(s) longer than %d lines\n", over, max; exit 1 } }
