package dev.tributary.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Gives a byte range of a file back to the file system without moving anything after it: Linux's
 * {@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}, called through the foreign function API.
 * The file keeps its size and every offset; the range reads back as zeros and takes no disk blocks.
 * Where the call does not exist (not Linux) or the file system refuses it, nothing changes and the caller
 * is told so.
 */
final class HolePunch {
    private static final int O_WRONLY = 1;
    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;
    private static final int EOPNOTSUPP = 95;

    private static final MethodHandle OPEN;
    private static final MethodHandle FALLOCATE;
    private static final MethodHandle CLOSE;
    private static final StructLayout CALL_STATE;
    private static final VarHandle ERRNO;

    static {
        MethodHandle open = null;
        MethodHandle fallocate = null;
        MethodHandle close = null;
        StructLayout state = null;
        VarHandle errno = null;
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                state = Linker.Option.captureStateLayout();
                errno = state.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
                Linker.Option capture = Linker.Option.captureCallState("errno");
                open = linker.downcallHandle(libc.find("open").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                        capture, Linker.Option.firstVariadicArg(2));
                fallocate = linker.downcallHandle(libc.find("fallocate").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), capture);
                close = linker.downcallHandle(libc.find("close").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            } catch (RuntimeException | LinkageError e) {
                open = null;
            }
        }
        OPEN = open;
        FALLOCATE = fallocate;
        CLOSE = close;
        CALL_STATE = state;
        ERRNO = errno;
    }

    private HolePunch() {}

    /** Whether this platform has the call at all. */
    static boolean available() {
        return OPEN != null && FALLOCATE != null && CLOSE != null;
    }

    /**
     * Frees {@code [offset, offset + length)} of {@code file}.
     *
     * @return false when the platform or the file system cannot punch holes (nothing changed)
     * @throws IOException when the file cannot be opened or the call fails for another reason
     */
    static boolean punch(Path file, long offset, long length) throws IOException {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("hole of " + length + " bytes at " + offset);
        }
        if (!available()) {
            return false;
        }
        if (length == 0) {
            return true;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment path = arena.allocateFrom(file.toAbsolutePath().toString());
            int fd = (int) OPEN.invokeExact(state, path, O_WRONLY, 0);
            if (fd < 0) {
                throw new IOException(file + ": open for punching a hole failed (errno " + (int) ERRNO.get(state, 0L) + ")");
            }
            try {
                int rc = (int) FALLOCATE.invokeExact(state, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
                if (rc != 0) {
                    int errno = (int) ERRNO.get(state, 0L);
                    if (errno == EOPNOTSUPP) {
                        return false;
                    }
                    throw new IOException(file + ": punching a hole of " + length + " bytes at " + offset
                            + " failed (errno " + errno + ")");
                }
                return true;
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(file + ": punching a hole failed: " + t, t);
        }
    }
}
