package dev.tributary.cli;

import dev.tributary.train.Tasks;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Help text the same way for every command: descriptions are paragraphs wrapped at words to the
 * terminal's width (never cut mid-sentence), every default is shown, {@code --debug} is listed, and
 * {@code --task} names the tasks there are.
 */
final class Help {
    private Help() {}

    static void polish(CommandLine cl) {
        cl.setUsageHelpAutoWidth(true);
        CommandSpec spec = cl.getCommandSpec();
        spec.usageMessage().description(paragraphs(spec.usageMessage().description()));
        if (!spec.name().equals("help") && spec.findOption("--debug") == null) {
            spec.addOption(OptionSpec.builder("--debug").description("show the stack trace of a failure").build());
        }
        for (OptionSpec o : List.copyOf(spec.options())) {
            String d = String.join(" ", o.description());
            String changed = d;
            if (o.longestName().equals("--task")) {
                changed = changed.replaceFirst(", e\\.g\\. [a-z0-9-]+", "") + "; one of " + String.join(", ", Tasks.names());
            }
            boolean flag = o.arity().max() == 0;
            if (!flag && o.defaultValue() != null && !changed.contains("${DEFAULT-VALUE}") && !changed.contains("(default") && !o.usageHelp() && !o.versionHelp()) {
                changed = changed + " (default ${DEFAULT-VALUE})";
            }
            if (!changed.equals(d)) {
                setDescription(spec, o, changed);
            }
        }
        cl.getSubcommands().values().forEach(Help::polish);
    }

    /**
     * Joins a description given as lines into paragraphs: consecutive non-empty lines are one paragraph
     * (picocli wraps it), an empty line separates two.
     */
    static String[] paragraphs(String[] lines) {
        List<String> out = new ArrayList<>();
        StringBuilder p = new StringBuilder();
        for (String line : lines) {
            if (line.isBlank()) {
                if (!p.isEmpty()) {
                    out.add(p.toString());
                    p.setLength(0);
                }
                out.add("");
            } else {
                p.append(p.isEmpty() ? "" : " ").append(line.strip());
            }
        }
        if (!p.isEmpty()) {
            out.add(p.toString());
        }
        // The first sentence alone first: the command list shows it as the command's summary.
        if (!out.isEmpty()) {
            String first = out.getFirst();
            int end = first.indexOf(". ");
            if (end > 0) {
                out.set(0, first.substring(0, end + 1));
                out.add(1, first.substring(end + 2));
            }
        }
        return out.toArray(String[]::new);
    }

    private static void setDescription(CommandSpec spec, OptionSpec o, String text) {
        OptionSpec replaced = o.toBuilder().description(text).build();
        spec.remove(o);
        spec.addOption(replaced);
    }

    /**
     * The first argument that looks like an option of {@code spec} but is none, with the nearest names, or
     * null: said before any other usage error, since a typo is its likeliest cause.
     */
    static String unknownOption(CommandSpec spec, String[] args) {
        for (String a : args) {
            if (!a.startsWith("--") || a.equals("--")) {
                continue;
            }
            String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (spec.findOption(name) != null) {
                continue;
            }
            List<String> near = new ArrayList<>();
            for (OptionSpec o : spec.options()) {
                for (String n : o.names()) {
                    if (n.startsWith("--") && distance(n, name) <= Math.max(2, name.length() / 4)) {
                        near.add(n);
                    }
                }
            }
            return "unknown option '" + name + "'" + (near.isEmpty() ? "" : "; did you mean " + String.join(" or ", near) + "?");
        }
        return null;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                int swap = i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)
                        ? prev[j - 1] : Integer.MAX_VALUE; // adjacent transposition costs one, like a substitution
                cur[j] = Math.min(Math.min(prev[j] + 1, cur[j - 1] + 1), Math.min(sub, swap));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** "Did you mean …?" for a mistyped command or option. */
    static void suggest(CommandLine.UnmatchedArgumentException u, PrintWriter err) {
        List<String> s = u.getSuggestions();
        if (!s.isEmpty()) {
            err.println("did you mean " + String.join(" or ", s.subList(0, Math.min(3, s.size()))) + "?");
        }
    }
}
