#!/usr/bin/env perl
# Checks, as far as text can, that the hand-written Swift of ios/ (the wrappers in
# Sources/ZhichaoCore and the XCTests in Tests/ZhichaoCoreTests) agrees with the Swift bindings
# uniffi generated, and the iOS tests and texts with the Android ones. Run by ios/check.sh:
#
#   perl ios/check-swift-api.pl GENERATED.swift SOURCES_DIR TESTS_DIR KOTLIN_ERRORS.kt KOTLIN_TESTS_DIR
#
# Prints one record per check: `PASS<TAB>summary`, or `FAIL<TAB>summary` followed by
# `DETAIL<TAB>line` records. Exits 0 (check.sh counts the records).
#
# How it reads Swift: comments are dropped and string literals emptied (calls inside string
# interpolations are not seen); declarations are found by brace depth (a member is a declaration
# directly in a type's braces). A call is `name(` with no space before the parenthesis, a trailing
# closure `{` right after its `)` counts as one more argument. Names of the platform (XCTest,
# Foundation, UIKit, os, Security) are not parsed from any SDK: they are allowed by the lists
# below — add a name there when new code uses one (never a name of the core).
use strict;
use warnings;
use Cwd ();
use File::Find;
use File::Spec;

# Files are read and written as bytes: the Chinese in them never touches the ASCII syntax, and
# character-indexed substr on decoded text would be slow.

my ($generated_path, $sources_dir, $tests_dir, $kotlin_errors, $kotlin_tests) = @ARGV;
die "usage: $0 GENERATED.swift SOURCES_DIR TESTS_DIR KOTLIN_ERRORS.kt KOTLIN_TESTS_DIR\n"
  unless defined $kotlin_tests;

# --- Names of the platform the hand-written Swift may use --------------------------------------
# Free functions and types called as `Name(…)`.
my %ALLOWED_CALLS = map { $_ => 1 } qw(
  XCTAssert XCTAssertEqual XCTAssertNotEqual XCTAssertTrue XCTAssertFalse XCTAssertNil
  XCTAssertNotNil XCTAssertGreaterThan XCTAssertGreaterThanOrEqual XCTAssertLessThan
  XCTAssertLessThanOrEqual XCTAssertThrowsError XCTAssertNoThrow XCTFail XCTUnwrap XCTSkip
  print fatalError precondition preconditionFailure assert min max zip
  String Substring Character Int Int32 Int64 UInt UInt8 UInt32 UInt64 Double Float Bool Array
  Dictionary Set Data Date URL UUID URLRequest JSONEncoder JSONDecoder NSPredicate NSLock NSError
  ObjCBool CGRect CGSize CGPoint CGFloat UIColor UIImage UIGraphicsImageRenderer
  UIGraphicsImageRendererFormat Logger OSLogStore AsyncStream AsyncThrowingStream Task
  SecItemAdd SecItemUpdate SecItemCopyMatching SecItemDelete SecCopyErrorMessageString
  objc_getAssociatedObject objc_setAssociatedObject
);
# Methods called as `value.name(…)` (or on a type of the platform).
my %ALLOWED_METHODS = map { $_ => 1 } qw(
  append appendingPathComponent addingTimeInterval cancel compactMap contains createDirectory
  data decode encode enumerator fileExists fill filter first getEntries hasPrefix hasSuffix
  jpegData lock unlock log lowercased map position prefix random range removeAll removeItem
  removeLast resourceValues setFill setValue sleep trimmingCharacters yield
);
# Properties read as `value.name`.
my %ALLOWED_PROPERTIES = map { $_ => 1 } qw(
  count isEmpty first last path rawValue boolValue statusCode composedMessage category subsystem
  uuidString environment temporaryDirectory isRegularFile localizedDescription errorDescription
  description hasSucceeded isWhitespace utf8 onTermination httpMethod httpBody scale opaque
  uptimeNanoseconds values timeIntervalSince1970
);
# Implicit members `.name` of platform types (`bufferingPolicy: .unbounded` …).
my %ALLOWED_IMPLICIT = map { $_ => 1 } qw(
  unbounded whitespaces isRegularFileKey currentProcessIdentifier default utf8
  OBJC_ASSOCIATION_RETAIN
);
my %KEYWORDS = map { $_ => 1 } qw(
  if while switch guard return throw catch for in where let var func init deinit case else do
  repeat defer try await as is some any self Self super subscript get set willSet didSet
  true false nil async throws rethrows inout static class struct enum protocol extension
  import typealias associatedtype operator
);

# --- Reading Swift --------------------------------------------------------------------------
sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

# The end (index after) of the string literal starting at $i (at `"` or the `#`s of a raw
# string), and the newlines in it. Interpolations are skipped with their nested strings.
sub skip_string {
    my ($s, $i) = @_;
    my $n = length $s;
    my $hashes = 0;
    while ($i < $n && substr($s, $i, 1) eq '#') { $hashes++; $i++; }
    my $multi = substr($s, $i, 3) eq '"""';
    my $close = ($multi ? '"""' : '"') . ('#' x $hashes);
    my $escape = '\\' . ('#' x $hashes);
    $i += $multi ? 3 : 1;
    my $newlines = 0;
    while ($i < $n) {
        if (substr($s, $i, length $close) eq $close) {
            return ($i + length $close, $newlines);
        }
        my $c = substr($s, $i, 1);
        if ($c eq "\n") { $newlines++; $i++; next; }
        if (substr($s, $i, length $escape) eq $escape) {
            $i += length $escape;
            if (substr($s, $i, 1) eq '(') {
                my $depth = 0;
                while ($i < $n) {
                    my $d = substr($s, $i, 1);
                    if ($d eq '"' || ($d eq '#' && substr($s, $i, 12) =~ /\A#+"/)) {
                        my ($end, $nl) = skip_string($s, $i);
                        $newlines += $nl;
                        $i = $end;
                        next;
                    }
                    $newlines++ if $d eq "\n";
                    $depth++ if $d eq '(';
                    if ($d eq ')') {
                        $depth--;
                        if ($depth == 0) { $i++; last; }
                    }
                    $i++;
                }
                next;
            }
            $i++;    # the escaped character
            next;
        }
        $i++;
    }
    return ($n, $newlines);
}

# Swift without comments, every string literal emptied to "", newlines kept (for line numbers).
sub strip_swift {
    my ($s) = @_;
    my $n = length $s;
    my $out = '';
    my $i = 0;
    while ($i < $n) {
        my $c = substr($s, $i, 1);
        my $two = substr($s, $i, 2);
        if ($two eq '//') {
            my $j = index($s, "\n", $i);
            $i = $j < 0 ? $n : $j;
            next;
        }
        if ($two eq '/*') {
            my $depth = 0;
            while ($i < $n) {
                my $t = substr($s, $i, 2);
                if ($t eq '/*') { $depth++; $i += 2; next; }
                if ($t eq '*/') { $depth--; $i += 2; last if $depth == 0; next; }
                $out .= "\n" if substr($s, $i, 1) eq "\n";
                $i++;
            }
            $out .= ' ';
            next;
        }
        if ($c eq '"' || ($c eq '#' && substr($s, $i, 12) =~ /\A#+"/)) {
            my ($end, $newlines) = skip_string($s, $i);
            $out .= '""' . ("\n" x $newlines);
            $i = $end;
            next;
        }
        $out .= $c;
        $i++;
    }
    return $out;
}

# Brace depth at every index (a `{` and its `}` have the depth of what they enclose).
sub depths {
    my ($code) = @_;
    my @depth;
    my $d = 0;
    my $i = 0;
    for my $c (split //, $code) {
        $d++ if $c eq '{';
        $depth[$i++] = $d;
        $d-- if $c eq '}';
    }
    return \@depth;
}

# The text between the bracket at $open and its match, and the index after the match.
sub balanced {
    my ($code, $open) = @_;
    my $o = substr($code, $open, 1);
    my $c = { '(' => ')', '{' => '}', '[' => ']' }->{$o};
    my $depth = 0;
    my $n = length $code;
    for (my $i = $open; $i < $n; $i++) {
        my $ch = substr($code, $i, 1);
        $depth++ if $ch eq $o;
        if ($ch eq $c) {
            $depth--;
            return (substr($code, $open + 1, $i - $open - 1), $i + 1) if $depth == 0;
        }
    }
    return (substr($code, $open + 1), $n);
}

# Splits a parameter or argument list at its top-level commas.
sub split_top {
    my ($text) = @_;
    my @parts;
    my ($depth, $angle, $current) = (0, 0, '');
    my @chars = split //, $text;
    for my $k (0 .. $#chars) {
        my $ch = $chars[$k];
        my $prev = $k > 0 ? $chars[$k - 1] : '';
        if ($ch =~ /[(\[{]/) { $depth++; }
        elsif ($ch =~ /[)\]}]/) { $depth--; }
        elsif ($ch eq '<' && $prev =~ /\w/) { $angle++; }
        elsif ($ch eq '>' && $prev ne '-' && $angle > 0) { $angle--; }
        if ($ch eq ',' && $depth == 0 && $angle == 0) {
            push @parts, $current;
            $current = '';
            next;
        }
        $current .= $ch;
    }
    push @parts, $current if $current =~ /\S/;
    return @parts;
}

sub unquote { my ($name) = @_; $name =~ s/`//g; return $name; }

sub squeeze { my ($text) = @_; $text =~ s/\s+//g; return $text; }

# Parameters of a declaration: [{ label, type, default }], label `_` for none.
sub parse_params {
    my ($text, $is_case) = @_;
    my @params;
    for my $part (split_top($text)) {
        my ($head, $default) = ($part, 0);
        # A default value: `=` at the top level, not `==`.
        my @pieces = split_top_equals($part);
        if (@pieces > 1) { ($head, $default) = ($pieces[0], 1); }
        $head =~ s/^\s+|\s+$//g;
        if ($head =~ /^(`?[A-Za-z_]\w*`?)(?:\s+(`?[A-Za-z_]\w*`?))?\s*:\s*(.*)$/s) {
            my ($label, $type) = ($1, $3);
            $type =~ s/^(?:\@\w+\s+|inout\s+)*//;
            push @params, { label => unquote($label), type => squeeze($type), default => $default };
        } elsif ($is_case) {
            push @params, { label => '_', type => squeeze($head), default => $default };
        }
    }
    return \@params;
}

sub split_top_equals {
    my ($text) = @_;
    my $depth = 0;
    my @chars = split //, $text;
    for my $k (0 .. $#chars) {
        my $ch = $chars[$k];
        if ($ch =~ /[(\[{]/) { $depth++; }
        elsif ($ch =~ /[)\]}]/) { $depth--; }
        elsif ($ch eq '=' && $depth == 0
            && ($k + 1 > $#chars || $chars[$k + 1] ne '=')
            && ($k == 0 || $chars[$k - 1] !~ /[=!<>]/))
        {
            return (substr($text, 0, $k), substr($text, $k + 1));
        }
    }
    return ($text);
}

# Labels of a call's arguments (`_` for an unlabeled one).
sub call_labels {
    my ($text) = @_;
    my @labels;
    for my $arg (split_top($text)) {
        if ($arg =~ /^\s*(`?[A-Za-z_]\w*`?)\s*:(?!:)/) { push @labels, unquote($1); }
        else { push @labels, '_'; }
    }
    return \@labels;
}

# The line of index $pos of a file's code (newline offsets cached in the file).
sub line_of {
    my ($file, $pos) = @_;
    if (!$file->{newlines}) {
        my @nl;
        my $code = $file->{code};
        my $at = -1;
        push @nl, $at while ($at = index($code, "\n", $at + 1)) >= 0;
        $file->{newlines} = \@nl;
    }
    my $nl = $file->{newlines};
    my ($lo, $hi) = (0, scalar @$nl);    # count of newlines before $pos
    while ($lo < $hi) {
        my $mid = int(($lo + $hi) / 2);
        if ($nl->[$mid] < $pos) { $lo = $mid + 1; } else { $hi = $mid; }
    }
    return $lo + 1;
}

my $MODIFIERS = qr/(?:(?:public|open|private|fileprivate|internal|static|class|final|override|mutating|nonmutating|required|convenience|nonisolated|lazy|weak|unowned|dynamic|indirect|\@\w+(?:\([^)]*\))?)\s+)*/;

# Reads one Swift file: its declarations and its code for the checks on uses.
#   { path, code, depth, scopes => [...], decls => [...] }
# A decl: { kind => func|init|case|prop, name, params, scope (type name or ''), scope_kind,
#           visibility => public|internal|private, async, throws, ret, line }
sub read_swift {
    my ($path, $display) = @_;
    my $code = strip_swift(slurp($path));
    my $depth = depths($code);
    my @scopes;
    while ($code =~ /(?<![\w.])($MODIFIERS)(struct|enum|class|protocol|extension|actor)\s+([A-Za-z_][\w.]*)([^{;]*)\{/g) {
        my ($mods, $kind, $name, $rest) = ($1, $2, $3, $4);
        next if $KEYWORDS{$name};
        my $open = $+[0] - 1;
        my (undef, $after) = balanced($code, $open);
        push @scopes, {
            kind => $kind, name => $name, inherits => $rest, open => $open, close => $after - 1,
            depth => $depth->[$open], visibility => visibility($mods, undef),
        };
        pos($code) = $open + 1;
    }
    my $file = { path => $path, display => $display, code => $code, depth => $depth,
        scopes => \@scopes, decls => [], bodies => [] };

    my $add = sub {
        my ($pos, %decl) = @_;
        my $scope = scope_at($file, $pos);
        my $member_depth = $scope ? $scope->{depth} : 0;
        return if $depth->[$pos] != $member_depth;
        $decl{scope} = $scope ? $scope->{name} : '';
        $decl{scope_kind} = $scope ? $scope->{kind} : '';
        $decl{scope_ref} = $scope;
        $decl{line} = line_of($file, $pos);
        $decl{file} = $display;
        if ($scope && $scope->{kind} eq 'protocol') { $decl{visibility} = $scope->{visibility}; }
        push @{ $file->{decls} }, \%decl;
    };

    while ($code =~ /(?<![\w.])($MODIFIERS)func\s+(`?[A-Za-z_]\w*`?)\s*(?:<[^>{]*>)?\s*\(/g) {
        my ($mods, $name, $at) = ($1, unquote($2), $-[0] + length($1));
        my ($params, $after) = balanced($code, $+[0] - 1);
        my $tail = substr($code, $after, 300);
        $tail =~ /\A\s*(async)?\s*(throws|rethrows)?\s*(?:->\s*(.*?))?\s*(?:\{|\bwhere\b|\n|$)/s;
        my ($async, $throws, $ret) = ($1 ? 1 : 0, $2 ? 1 : 0, defined $3 ? squeeze($3) : '');
        $ret = '' if $ret eq 'Void' || $ret eq '()';
        $add->($at, kind => 'func', name => $name, params => parse_params($params, 0),
            visibility => visibility($mods, 1), async => $async, throws => $throws, ret => $ret,
            static => ($mods =~ /\b(?:static|class)\b/ ? 1 : 0));
        add_body($file, $after, $async, "func $name");
        pos($code) = $after;
    }
    while ($code =~ /(?<![\w.])($MODIFIERS)init[?!]?\s*(?:<[^>{]*>)?\s*\(/g) {
        my ($mods, $at) = ($1, $-[0] + length($1));
        my ($params, $after) = balanced($code, $+[0] - 1);
        $add->($at, kind => 'init', name => 'init', params => parse_params($params, 0),
            visibility => visibility($mods, 1), static => 1);
        add_body($file, $after, substr($code, $after, 100) =~ /\A\s*async\b/ ? 1 : 0, 'init');
        pos($code) = $after;
    }
    while ($code =~ /(?<![\w.])case\s+/g) {
        my $at = $-[0];
        my $scope = scope_at($file, $at);
        next unless $scope && $scope->{kind} eq 'enum' && $depth->[$at] == $scope->{depth};
        my $p = $+[0];
        while (substr($code, $p) =~ /\A\s*(`?[A-Za-z_]\w*`?)/) {
            my $name = unquote($1);
            $p += $+[0];
            my $params = [];
            if (substr($code, $p) =~ /\A\s*\(/) {
                my ($text, $after) = balanced($code, $p + $+[0] - 1);
                $params = parse_params($text, 1);
                $p = $after;
            }
            $add->($at, kind => 'case', name => $name, params => $params,
                visibility => $scope->{visibility}, static => 1);
            if (substr($code, $p) =~ /\A\s*=\s*[^,\n]*/) { $p += $+[0]; }
            last unless substr($code, $p) =~ /\A\s*,/;
            $p += $+[0];
        }
        pos($code) = $p;
    }
    while ($code =~ /(?<![\w.])($MODIFIERS)(?:var|let)\s+(`?[A-Za-z_]\w*`?)/g) {
        my ($mods, $name, $at) = ($1, unquote($2), $-[0] + length($1));
        $add->($at, kind => 'prop', name => $name, visibility => visibility($mods, 1),
            static => ($mods =~ /\b(?:static|class)\b/ ? 1 : 0), params => []);
    }
    return $file;
}

# Records the body of a function whose parameter list ends at $after (none for a requirement).
sub add_body {
    my ($file, $after, $async, $what) = @_;
    my $code = $file->{code};
    return unless substr($code, $after, 400) =~ /\A[^{}\n]*(?:\n[^{}\n]*)?\{/;
    my $open = $after + $+[0] - 1;
    my (undef, $end) = balanced($code, $open);
    push @{ $file->{bodies} }, { open => $open, close => $end - 1, async => $async, what => $what };
}

sub visibility {
    my ($mods, $member) = @_;
    return 'public' if $mods =~ /\b(?:public|open)\b/;
    return 'private' if $mods =~ /\b(?:private|fileprivate)\b/;
    return 'internal';
}

# Where the statement holding $pos starts: after a `{`, `}` or `;`, or after a line break outside
# parentheses and brackets that does not continue the expression (a next line starting with `.`
# or an operator, a line ending with `,` or an operator). Braces open a new level: the statements
# of a closure are its own.
sub statement_start {
    my ($file, $pos) = @_;
    if (!$file->{starts}) {
        my @starts = (0);
        my $code = $file->{code};
        my @stack;
        my $depth = 0;
        my $n = length $code;
        for (my $i = 0; $i < $n; $i++) {
            my $c = substr($code, $i, 1);
            if ($c eq '(' || $c eq '[') { $depth++; }
            elsif ($c eq ')' || $c eq ']') { $depth-- if $depth > 0; }
            elsif ($c eq '{') { push @stack, $depth; $depth = 0; push @starts, $i + 1; }
            elsif ($c eq '}') { $depth = @stack ? pop @stack : 0; push @starts, $i + 1; }
            elsif ($c eq ';') { push @starts, $i + 1 if $depth == 0; }
            elsif ($c eq "\n" && $depth == 0) {
                my $before = substr($code, $i > 200 ? $i - 200 : 0, $i > 200 ? 200 : $i);
                my $after = substr($code, $i + 1, 200);
                next if $before =~ /(?:[,=+\-*\/&|:?]|->)[ \t]*\z/ && $before !~ /\bcase\b[^\n]*:[ \t]*\z/;
                next if $after =~ /\A\s*(?:\.(?!\.)|[+*\/&|?:=]|->|-(?!\d)|\belse\b)/;
                push @starts, $i + 1;
            }
        }
        $file->{starts} = \@starts;
    }
    my $starts = $file->{starts};
    my ($lo, $hi) = (0, $#$starts);
    while ($lo < $hi) {
        my $mid = int(($lo + $hi + 1) / 2);
        if ($starts->[$mid] <= $pos) { $lo = $mid; } else { $hi = $mid - 1; }
    }
    return $starts->[$lo];
}

# The innermost type whose braces hold $pos.
sub scope_at {
    my ($file, $pos) = @_;
    my $best;
    for my $s (@{ $file->{scopes} }) {
        next unless $s->{open} < $pos && $pos < $s->{close};
        $best = $s if !$best || $s->{open} > $best->{open};
    }
    return $best;
}

sub swift_files {
    my ($dir) = @_;
    my @files;
    find({ wanted => sub { push @files, $File::Find::name if /\.swift\z/ && -f $_ }, no_chdir => 1 }, $dir);
    return sort @files;
}

# --- The generated bindings and the hand-written Swift -------------------------------------------
my $generated = read_swift($generated_path, 'generated');
my @gen_public = grep { $_->{visibility} eq 'public' } @{ $generated->{decls} };
my %gen_types;
for my $s (@{ $generated->{scopes} }) {
    $gen_types{ $s->{name} } = $s->{kind} if $s->{visibility} eq 'public' && $s->{kind} ne 'extension';
}

# Files are named in messages as `ios/…`, relative to the directory above Sources/.
my $ios_dir = Cwd::abs_path("$sources_dir/../..");
sub display { my ($path) = @_; return 'ios/' . File::Spec->abs2rel(Cwd::abs_path($path), $ios_dir); }

my (@wrapper_files, @test_files);
for my $path (swift_files($sources_dir)) {
    next if $path =~ m{/Generated/};
    push @wrapper_files, read_swift($path, display($path));
}
for my $path (swift_files($tests_dir)) {
    push @test_files, read_swift($path, display($path));
}
my @own_files = (@wrapper_files, @test_files);
my %is_wrapper = map { $_->{display} => 1 } @wrapper_files;
my @own_decls = map { @{ $_->{decls} } } @own_files;
my %own_types;
for my $f (@own_files) {
    for my $s (@{ $f->{scopes} }) {
        $own_types{ $s->{name} } = $s->{kind} if $s->{kind} ne 'extension';
    }
}
my @all_decls = (@gen_public, @own_decls);
if ($ENV{CHECK_SWIFT_API_DEBUG}) {
    # The declarations as read, one a line: `file:line kind visibility Scope.signature`.
    for my $d (@all_decls, grep { $_->{visibility} ne 'public' } @{ $generated->{decls} }) {
        printf STDERR "%s:%d %s %s %s%s%s\n", $d->{file}, $d->{line}, $d->{kind}, $d->{visibility},
          ($d->{scope} ? "$d->{scope}." : ''), signature($d),
          ($d->{kind} eq 'func' ? ($d->{async} ? ' async' : '') . ($d->{throws} ? ' throws' : '') . ($d->{ret} ne '' ? " -> $d->{ret}" : '') : '');
    }
}

# Names of values (parameters, constants, variables) of the hand-written Swift: a call of one
# of them is a call of a closure (`forward(event)`, `isLast(element)`).
my %locals;
for my $f (@own_files) {
    my $code = $f->{code};
    $locals{$1} = 1 while $code =~ /\b(?:let|var)\s+(`?[A-Za-z_]\w*)/g;
    while ($code =~ /\b(?:let|var)\s+\(([^)]*)\)/g) {
        $locals{$1} = 1 for map { /(\w+)/ ? $1 : () } split /,/, $1;
    }
    while ($code =~ /(?<![\w.])func\s+`?\w+`?\s*(?:<[^>{]*>)?\s*\(/g) {
        my ($params) = balanced($code, $+[0] - 1);
        for my $part (split_top($params)) {
            $locals{$2 // $1} = 1 if $part =~ /^\s*(\w+)(?:\s+(\w+))?\s*:/;
        }
    }
}

# Whether a call with these labels (and a trailing closure) fits a declaration's parameters.
sub fits {
    my ($decl, $labels, $trailing) = @_;
    my @params = @{ $decl->{params} };
    my @labels = @$labels;
    if ($decl->{kind} eq 'case' && @labels == @params && !grep { $_ ne '_' } @labels) {
        return 1;    # a pattern binding the payload by position: `.progress(pushed, _, _)`
    }
    my $trailing_left = $trailing;
    while (@params) {
        my $p = $params[0];
        if (@labels && $labels[0] eq $p->{label}) { shift @labels; shift @params; next; }
        if ($p->{default}) { shift @params; next; }
        if (!@labels && $trailing_left) { $trailing_left = 0; shift @params; next; }
        return 0;
    }
    return !@labels;
}

sub signature {
    my ($decl) = @_;
    return $decl->{name} if $decl->{kind} eq 'prop';
    my $labels = join '', map { "$_->{label}:" } @{ $decl->{params} };
    my $name = $decl->{kind} eq 'init' ? ($decl->{scope} || 'init') : $decl->{name};
    return "$name($labels)";
}

sub where_used { my ($file, $pos) = @_; return "$file->{display}:" . line_of($file, $pos); }

# --- Check: calls -------------------------------------------------------------------------------
my (@call_problems, @effect_problems, %wrapper_uses);
my $calls_checked = 0;

# Declarations a call `name(…)` may mean: of type $type when given, else any.
sub candidates {
    my ($name, $type, $kinds) = @_;
    return grep {
        my $d = $_;
        ($name eq 'init' ? $d->{kind} eq 'init' : $d->{name} eq $name)
          && (!defined $type || $d->{scope} eq $type)
          && (!$kinds || $kinds->{ $d->{kind} })
    } @all_decls;
}

# Checks a call against the declarations it may mean. Returns `none` (no declaration of that
# name), `ok`, or `mismatch` (declared, but no declaration fits the labels; recorded unless the
# name is also one of the platform's, $allowed).
sub check_call {
    my ($file, $pos, $name, $type, $labels, $trailing, $kinds, $allowed) = @_;
    my @found = candidates($name, $type, $kinds);
    $calls_checked++;
    return 'none' unless @found;
    my @fitting = grep { fits($_, $labels, $trailing) } @found;
    if (!@fitting) {
        return 'ok' if $allowed;
        my $shown = (defined $type && $name ne 'init' ? "$type." : '') . ($name eq 'init' ? $type : $name)
          . '(' . join('', map { "$_:" } @$labels) . ')' . ($trailing ? ' {…}' : '');
        my %seen;
        my @sigs = grep { !$seen{$_}++ }
          map { ($_->{scope} && $_->{kind} ne 'init' ? "$_->{scope}." : '') . signature($_) . " ($_->{file}:$_->{line})" } @found;
        push @call_problems, where_used($file, $pos) . ": $shown fits none of: " . join('; ', @sigs);
        return 'mismatch';
    }
    note_wrapper_use($file, $pos, @fitting);
    # `try` and `await`: Swift wants them before a call that throws or suspends, in the same
    # statement (a call the platform also has a name for is left out: it may be the other).
    if (!$allowed) {
        my $start = statement_start($file, $pos);
        my $prefix = substr($file->{code}, $start, $pos - $start);
        my $shown = (defined $type && $name ne 'init' ? "$type." : '') . ($name eq 'init' ? $type : $name);
        if (!grep { !$_->{throws} } @fitting and $prefix !~ /\btry\b/) {
            push @effect_problems, where_used($file, $pos) . ": $shown(…) throws but its statement has no `try`";
        }
        if (!grep { !$_->{async} } @fitting and $prefix !~ /\bawait\b/) {
            push @effect_problems, where_used($file, $pos) . ": $shown(…) is async but its statement has no `await`";
        }
    }
    return 'ok';
}

# A test's use of the wrappers must reach a public declaration.
sub note_wrapper_use {
    my ($file, $pos, @decls) = @_;
    return if $is_wrapper{ $file->{display} };
    my @reachable = grep { $_->{file} eq 'generated' || !$is_wrapper{ $_->{file} } || $_->{visibility} eq 'public' } @decls;
    return if @reachable;
    push @{ $wrapper_uses{ signature($decls[0]) } }, where_used($file, $pos) . " ($decls[0]{file}:$decls[0]{line})";
}

for my $f (@own_files) {
    my $code = $f->{code};
    # `name(`, `Type(`, `Type<…>(` not after a dot: free functions, initializers, closures.
    while ($code =~ /(?<![\w.@#`\\])(`?[A-Za-z_]\w*`?)(<[^<>(){}]*>)?\(/g) {
        my ($name, $at, $open) = (unquote($1), $-[0], $+[0] - 1);
        my $before = substr($code, 0, $at);
        next if $before =~ /(?:\bfunc|\bcase|\blet|\bvar)\s*\z/;
        next if $KEYWORDS{$name};
        my ($args, $after) = balanced($code, $open);
        my $trailing = substr($code, $after, 40) =~ /\A[ \t]*\{/ ? 1 : 0;
        my $labels = call_labels($args);
        if ($name =~ /^[A-Z]/) {
            if ($gen_types{$name} || $own_types{$name}) {
                my $status = check_call($f, $at, 'init', $name, $labels, $trailing, { init => 1 });
                if ($status eq 'none') {
                    # A type without a declared initializer: a struct's memberwise one.
                    next if $own_types{$name};
                    push @call_problems, where_used($f, $at) . ": $name(…) has no initializer in the generated Swift";
                }
                next;
            }
            next if $ALLOWED_CALLS{$name};
            push @call_problems, where_used($f, $at) . ": $name(…) is neither in the generated Swift, nor declared here, nor a platform type of the allow-list";
            next;
        }
        next if $locals{$name} && !candidates($name, undef, { func => 1 });
        my $allowed = $ALLOWED_CALLS{$name} || $locals{$name};
        next if check_call($f, $at, $name, undef, $labels, $trailing, { func => 1 }, $allowed) ne 'none';
        next if $allowed;
        push @call_problems, where_used($f, $at) . ": $name(…) is not a function of the generated Swift, nor declared here, nor in the allow-list";
    }
    # `.name(`: methods, static functions and enum cases with a payload.
    while ($code =~ /(?<!\.)\.(`?[A-Za-z_]\w*`?)\(/g) {
        my ($name, $at, $open) = (unquote($1), $-[0], $+[0] - 1);
        next if $name eq 'init' || $name eq 'self';
        my $before = substr($code, 0, $at);
        my $type;
        if ($before =~ /(?<![\w.])([A-Z]\w*)\z/) {
            $type = $1;
            if ($type eq 'Self') {
                my $scope = scope_at($f, $at);
                $type = $scope ? $scope->{name} : undef;
            }
            next unless defined $type && ($gen_types{$type} || $own_types{$type});    # a platform type's
        }
        next if $before =~ /\bsuper\z/;
        my ($args, $after) = balanced($code, $open);
        my $trailing = substr($code, $after, 40) =~ /\A[ \t]*\{/ ? 1 : 0;
        my $labels = call_labels($args);
        my $allowed = !defined $type && $ALLOWED_METHODS{$name};
        next if check_call($f, $at, $name, $type, $labels, $trailing, { func => 1, case => 1, init => 1 }, $allowed) ne 'none';
        next if $allowed;
        push @call_problems, where_used($f, $at) . ": ." . $name . "(…) is no method or enum case "
          . (defined $type ? "of $type " : '') . "in the generated Swift, nor declared here, nor in the allow-list";
    }
}

# --- Check: enum cases, static members and properties ---------------------------------------------
my (@member_problems);
my $members_checked = 0;
my %any_member = map { $_->{name} => 1 } grep { $_->{kind} ne 'init' } @all_decls;
my %case_or_static = map { $_->{name} => 1 } grep { $_->{kind} eq 'case' || $_->{static} } @all_decls;

for my $f (@own_files) {
    my $code = $f->{code};
    # `Type.member` and `value.member`, not followed by `(`.
    while ($code =~ /(?<=[\w)\]?!])\.(`?[A-Za-z_]\w*`?)(?![\w`(])/g) {
        my ($name, $at) = (unquote($1), $-[1]);
        next if $name eq 'self' || $name eq 'Type' || $name eq 'init';
        my $before = substr($code, 0, $at - 1);
        $members_checked++;
        if ($before =~ /(?<![\w.])([A-Z]\w*)\z/) {
            my $type = $1;
            if ($type eq 'Self') {
                my $scope = scope_at($f, $at);
                $type = $scope ? $scope->{name} : '';
            }
            next unless $gen_types{$type} || $own_types{$type};
            next if grep { $_->{name} eq $name && $_->{scope} eq $type && $_->{kind} ne 'init' } @all_decls;
            push @member_problems, where_used($f, $at) . ": $type.$name is not declared in $type";
            next;
        }
        next if $before =~ /\bsuper\z/;
        if ($any_member{$name}) {
            my @decls = grep { $_->{name} eq $name && $_->{kind} ne 'init' } @all_decls;
            note_wrapper_use($f, $at, @decls);
            next;
        }
        next if $ALLOWED_PROPERTIES{$name};
        # `value.name { … }`: a method with a trailing closure (`.first { … }`, `.map { … }`).
        next if substr($code, $+[0], 20) =~ /\A\s*\{/ && $ALLOWED_METHODS{$name};
        push @member_problems, where_used($f, $at) . ": .$name is no property of the generated Swift, nor declared here, nor in the allow-list";
    }
    # Implicit members: `.onServer`, `case .done, .failed:`, `== .stopped`.
    while ($code =~ /(?<=[\s(\[,:={])\.(`?[A-Za-z_]\w*`?)(?![\w`(])/g) {
        my ($name, $at) = (unquote($1), $-[1]);
        $members_checked++;
        next if $case_or_static{$name} || $ALLOWED_IMPLICIT{$name};
        push @member_problems, where_used($f, $at) . ": .$name is no enum case or static member of the generated Swift, nor declared here, nor in the allow-list";
    }
    # Key paths: `\.id`.
    while ($code =~ /\\\.(`?[A-Za-z_]\w*`?)/g) {
        my ($name, $at) = (unquote($1), $-[1]);
        $members_checked++;
        next if $any_member{$name} || $ALLOWED_PROPERTIES{$name};
        push @member_problems, where_used($f, $at) . ": \\.$name is no property of the generated Swift, nor declared here";
    }
}

# --- Check: `await` only where Swift allows it -------------------------------------------------
# Not in an argument of an XCTest assertion (its autoclosures are synchronous), and not in a
# function that is not `async` — unless a closure lies between (a `Task { … }` may await).
my @await_problems;
for my $f (@own_files) {
    my $code = $f->{code};
    while ($code =~ /(?<![\w.])(XCT\w+)\(/g) {
        my ($name, $at) = ($1, $-[0]);
        my ($args) = balanced($code, $+[0] - 1);
        push @await_problems, where_used($f, $at) . ": $name(…) has an `await` in its arguments: XCTest's autoclosures cannot suspend; await into a `let` first"
          if $args =~ /\bawait\b/;
    }
    while ($code =~ /\bawait\b/g) {
        my $at = $-[0];
        my ($body) = sort { $b->{open} <=> $a->{open} } grep { $_->{open} < $at && $at < $_->{close} } @{ $f->{bodies} };
        next if !$body || $body->{async};
        # The braces still open between the body's `{` and the `await`: any closure?
        my @open;
        for (my $i = $body->{open} + 1; $i < $at; $i++) {
            my $c = substr($code, $i, 1);
            if ($c eq '{') { push @open, $i; }
            elsif ($c eq '}') { pop @open; }
        }
        my $closure = 0;
        for my $brace (@open) {
            my $start = statement_start($f, $brace);
            my $head = substr($code, $start, $brace - $start);
            $closure = 1, last
              unless $head =~ /\A\s*(?:if|else|for|while|guard|switch|do|catch|repeat|defer)\b/ || $head =~ /\b(?:else|do)\s*\z/;
        }
        next if $closure;
        push @await_problems, where_used($f, $at) . ": `await` in $body->{what}, which is not async";
    }
}

# --- Check: the wrappers implement the generated protocols as declared ----------------------------
my @protocols = grep { $gen_types{$_} eq 'protocol' && $_ !~ /Protocol\z/ } sort keys %gen_types;
my (@conformance_problems, @conformances);
for my $f (@wrapper_files, @test_files) {
    for my $s (@{ $f->{scopes} }) {
        my $inherits = $s->{inherits};
        $inherits =~ s/\bwhere\b.*//s;
        for my $protocol (@protocols) {
            next unless $inherits =~ /(?<![\w.])\Q$protocol\E(?![\w.])/;
            push @conformances, "$s->{name}: $protocol";
            my @requirements = grep { $_->{scope} eq $protocol && $_->{kind} eq 'func' } @gen_public;
            my @members = grep { $_->{scope_ref} && $_->{scope_ref} == $s && $_->{kind} eq 'func' } @{ $f->{decls} };
            for my $r (@requirements) {
                my $want = signature($r);
                my $types = join ', ', map { "$_->{label}: $_->{type}" } @{ $r->{params} };
                my $full = "func $r->{name}($types)" . ($r->{async} ? ' async' : '') . ($r->{throws} ? ' throws' : '')
                  . ($r->{ret} ne '' ? " -> $r->{ret}" : '');
                my @same = grep { signature($_) eq $want } @members;
                if (!@same) {
                    push @conformance_problems, "$f->{display}: $s->{name} has no $want of $protocol ($full)";
                    next;
                }
                my $m = $same[0];
                my @why;
                for my $k (0 .. $#{ $r->{params} }) {
                    my ($a, $b) = ($r->{params}[$k]{type}, $m->{params}[$k]{type});
                    push @why, "parameter $r->{params}[$k]{label}: $b, not $a" if $a ne $b;
                }
                push @why, "returns " . ($m->{ret} || 'Void') . ", not " . ($r->{ret} || 'Void') if $m->{ret} ne $r->{ret};
                push @why, "throws where the protocol does not" if $m->{throws} && !$r->{throws};
                push @why, "is async where the protocol is not" if $m->{async} && !$r->{async};
                push @why, "is not public in public $s->{name}"
                  if $is_wrapper{ $f->{display} } && $s->{visibility} eq 'public' && $m->{visibility} ne 'public';
                push @conformance_problems, "$f->{display}:$m->{line}: $s->{name}.$want " . join('; ', @why) . " (protocol: $full)" if @why;
            }
        }
    }
}

# --- Check: user messages, the same as Android's ------------------------------------------------
my (@message_problems, %kotlin_texts, %swift_texts);
{
    my $kotlin = slurp($kotlin_errors);
    while ($kotlin =~ /is\s+ApiException\.(\w+)\s*->\s*"((?:[^"\\]|\\.)*)"/g) {
        my ($case, $text) = ($1, $2);
        $text =~ s/\$\{?(\w+)\}?/{$1}/g;
        $kotlin_texts{$case} = $text;
    }
    my ($errors_file) = grep { $_->{display} =~ m{/Errors\.swift\z} } @wrapper_files;
    my $raw = $errors_file ? slurp($errors_file->{path}) : '';
    if ($raw =~ /var\s+userMessage\s*:\s*String\s*\{(.*?)\n    \}/s) {
        my $body = $1;
        while ($body =~ /case\s+(?:let\s+)?\.(\w+)(?:\(\w+\))?\s*:\s*return\s+"((?:[^"\\]|\\.)*)"/g) {
            my ($case, $text) = ($1, $2);
            $text =~ s/\\\((\w+)\)/{$1}/g;
            $swift_texts{$case} = $text;
        }
    }
    my @cases = map { $_->{name} } grep { $_->{scope} eq 'ApiError' && $_->{kind} eq 'case' } @gen_public;
    push @message_problems, "found no ApiError cases in the generated Swift" unless @cases;
    push @message_problems, "found no `is ApiException.X -> \"…\"` texts in $kotlin_errors" unless %kotlin_texts;
    push @message_problems, "found no `case .X: return \"…\"` texts in ios/Sources/ZhichaoCore/Errors.swift's userMessage" unless %swift_texts;
    for my $case (@cases) {
        if (!defined $swift_texts{$case}) { push @message_problems, "Errors.swift: no userMessage text for ApiError.$case"; next; }
        if (!defined $kotlin_texts{$case}) { push @message_problems, "Errors.kt: no userMessage text for ApiException.$case"; next; }
        push @message_problems, "ApiError.$case: Swift says \"$swift_texts{$case}\", Kotlin \"$kotlin_texts{$case}\""
          if $swift_texts{$case} ne $kotlin_texts{$case};
    }
    my %known = map { $_ => 1 } @cases;
    push @message_problems, "Errors.swift: userMessage has a text for ApiError.$_, which the generated Swift does not have"
      for grep { !$known{$_} } sort keys %swift_texts;
}

# --- Check: every Kotlin test has its XCTest ---------------------------------------------------
my (@mirror_problems, $kotlin_count);
{
    my %swift_tests;
    for my $f (@test_files) {
        for my $s (@{ $f->{scopes} }) {
            next unless $s->{kind} eq 'class';
            my $body = substr($f->{code}, $s->{open}, $s->{close} - $s->{open});
            $swift_tests{"$s->{name}.$1"} = 1 while $body =~ /\bfunc\s+(test\w+)\s*\(/g;
        }
    }
    opendir my $dh, $kotlin_tests or die "$kotlin_tests: $!\n";
    for my $kt (sort grep { /\.kt\z/ } readdir $dh) {
        my $text = slurp("$kotlin_tests/$kt");
        next unless $text =~ /\bclass\s+(\w+)Test\b/;
        my $class = "$1Tests";
        while ($text =~ /\@Test\s+fun\s+(`?)(\w+)\1\s*\(/g) {
            $kotlin_count++;
            my $swift = "test" . ucfirst($2);
            push @mirror_problems, "$kt: $2 has no $class.$swift() in ios/Tests/ZhichaoCoreTests"
              unless $swift_tests{"$class.$swift"};
        }
    }
    closedir $dh;
    push @mirror_problems, "found no \@Test functions in $kotlin_tests" unless $kotlin_count;
}

# --- Report ---------------------------------------------------------------------------------------
sub report {
    my ($summary, @problems) = @_;
    if (@problems) {
        print "FAIL\t$summary\n";
        print "DETAIL\t$_\n" for @problems[0 .. ($#problems > 29 ? 29 : $#problems)];
        print "DETAIL\t… and " . (@problems - 30) . " more\n" if @problems > 30;
    } else {
        print "PASS\t$summary\n";
    }
}

my $nfiles = @own_files;
report("the $nfiles hand-written Swift files call only what the generated Swift or they declare, with fitting labels ($calls_checked calls)", @call_problems);
report("the enum cases, static members and properties they use exist ($members_checked uses)", @member_problems);
report("every call of a function that throws has `try`, and of an async one `await`, in its statement", @effect_problems);
report("`await` only in async functions and closures, never in an XCTest assertion's arguments", @await_problems);
my @not_public = map { "$_ is not public but the tests use it: " . join(', ', @{ $wrapper_uses{$_} }) } sort keys %wrapper_uses;
report("what the tests use of the wrappers is public", @not_public);
report("the wrappers and tests implement the generated protocols as declared ("
    . (@conformances ? join(', ', @conformances) : 'none found') . ")",
    @conformances ? @conformance_problems : ("no class implements " . join('/', @protocols)));
report("ApiError.userMessage has Android's text (Errors.kt) for each of the "
    . scalar(grep { $_->{scope} eq 'ApiError' && $_->{kind} eq 'case' } @gen_public) . " ApiError cases", @message_problems);
report("each of the " . ($kotlin_count // 0) . " Kotlin tests has its XCTest (FooTest.bar → FooTests.testBar)", @mirror_problems);
exit 0;
