package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ServeCommandTest {
    @Test
    void listensOnThisMachineOnlyUnlessToldOtherwise() {
        ServeCommand plain = new ServeCommand();
        new CommandLine(plain).parseArgs("--state", "s", "--init", "i", "--strategy", "fedasync");
        assertEquals("127.0.0.1", plain.host);
        ServeCommand open = new ServeCommand();
        new CommandLine(open).parseArgs("--state", "s", "--init", "i", "--strategy", "fedasync", "--host", "0.0.0.0");
        assertEquals("0.0.0.0", open.host);
    }
}
