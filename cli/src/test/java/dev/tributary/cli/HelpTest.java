package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.train.Tasks;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** Help that reads like text: whole sentences, every default, --debug, the tasks, and "did you mean". */
class HelpTest {
    static CommandLine polished() {
        CommandLine cl = new CommandLine(new Main());
        Help.polish(cl);
        return cl;
    }

    @Test
    void everyCommandSummaryIsAWholeSentence() {
        CliRunner r = CliRunner.run("--help");
        assertEquals(0, r.status());
        String commands = r.out().substring(r.out().indexOf("Commands:"));
        for (String name : polished().getSubcommands().keySet()) {
            if (name.equals("help")) {
                continue;
            }
            String summary = polished().getSubcommands().get(name).getCommandSpec().usageMessage().description()[0];
            assertTrue(summary.endsWith(".") || summary.endsWith(":"), name + ": summary cut mid-sentence: " + summary);
            String flat = commands.replaceAll("\\s+", " ");
            assertTrue(flat.contains(summary.replaceAll("\\s+", " ")), name + " summary missing from:\n" + commands);
        }
    }

    @Test
    void everyOptionWithADefaultShowsItAndEveryCommandListsDebug() {
        for (CommandLine sub : polished().getSubcommands().values()) {
            if (sub.getCommandName().equals("help")) {
                continue;
            }
            check(sub);
        }
    }

    private static void check(CommandLine cl) {
        StringWriter w = new StringWriter();
        cl.usage(new PrintWriter(w));
        String help = w.toString();
        String name = cl.getCommandSpec().qualifiedName();
        assertTrue(help.contains("--debug"), name + " does not list --debug");
        for (OptionSpec o : cl.getCommandSpec().options()) {
            if (o.arity().max() > 0 && o.defaultValue() != null) {
                assertTrue(String.join(" ", o.description()).contains("default"), name + " " + o.longestName()
                        + " hides its default " + o.defaultValue());
            }
            if (o.longestName().equals("--task")) {
                for (String t : Tasks.names()) {
                    assertTrue(String.join(" ", o.description()).contains(t), name + " --task does not list " + t);
                }
            }
        }
        for (String line : help.lines().toList()) {
            assertTrue(line.length() <= 120, name + ": line not wrapped: " + line);
        }
        cl.getSubcommands().values().forEach(HelpTest::check);
    }

    @Test
    void aMistypedCommandOrOptionGetsASuggestionAndExitTwo() {
        CliRunner cmd = CliRunner.run("serv");
        assertEquals(2, cmd.status());
        assertTrue(cmd.err().contains("did you mean serve"), cmd.err());
        CliRunner opt = CliRunner.run("serve", "--hots", "x");
        assertEquals(2, opt.status());
        assertEquals("error: unknown option '--hots'; did you mean --host?", opt.err().lines().findFirst().orElseThrow());
        CliRunner far = CliRunner.run("init", "--zzzzzz", "1", "--task", "synthetic-logreg", "--out", "x");
        assertEquals(2, far.status());
        assertTrue(far.err().startsWith("error: "), far.err());
    }

    @Test
    void paragraphsJoinLinesAndKeepTheFirstSentenceApart() {
        assertEquals(List.of("One.", "Two is long and wraps.", "", "Three."),
                List.of(Help.paragraphs(new String[] {"One. Two is", "long and wraps.", "", "Three."})));
    }
}
