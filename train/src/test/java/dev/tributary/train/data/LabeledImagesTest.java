package dev.tributary.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LabeledImagesTest {
    private final LabeledImages three = new LabeledImages(1, 2, new byte[] {1, 2, 3, 4, 5, 6}, new byte[] {7, 8, 9});

    @Test
    void subsetCopiesTheChosenImagesInOrder() {
        LabeledImages s = three.subset(new int[] {2, 0});
        assertArrayEquals(new byte[] {5, 6, 1, 2}, s.pixels());
        assertArrayEquals(new int[] {9, 7}, s.labelArray());
        assertEquals(10, three.classes());
        assertArrayEquals(new byte[] {1, 2}, three.head(1).pixels());
    }

    @Test
    void inconsistentSizesAreRefused() {
        assertEquals("3 labels need 9 pixels of 1x3, got 6", assertThrows(IllegalArgumentException.class,
                () -> new LabeledImages(1, 3, new byte[6], new byte[3])).getMessage());
        assertEquals("index 3 outside 0..2",
                assertThrows(IndexOutOfBoundsException.class, () -> three.subset(new int[] {3})).getMessage());
    }
}
