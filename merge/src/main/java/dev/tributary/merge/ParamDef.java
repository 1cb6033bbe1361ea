package dev.tributary.merge;

/**
 * A parameter a method declares: its name, the kind of value, and its default (null when the method
 * requires it or computes the default from the inputs).
 */
record ParamDef(String name, Kind kind, Object defaultValue, boolean required) {

    enum Kind { NUMBER, INTEGER, BOOLEAN, TENSORS }

    static ParamDef number(String name, double defaultValue) {
        return new ParamDef(name, Kind.NUMBER, defaultValue, false);
    }

    /** A number that may be absent, meaning "not applied". */
    static ParamDef optionalNumber(String name) {
        return new ParamDef(name, Kind.NUMBER, null, false);
    }

    static ParamDef requiredNumber(String name) {
        return new ParamDef(name, Kind.NUMBER, null, true);
    }

    static ParamDef bool(String name, boolean defaultValue) {
        return new ParamDef(name, Kind.BOOLEAN, defaultValue, false);
    }

    /** An integer whose default the method works out from the inputs when it is absent. */
    static ParamDef optionalInteger(String name) {
        return new ParamDef(name, Kind.INTEGER, null, false);
    }

    static ParamDef integer(String name, long defaultValue) {
        return new ParamDef(name, Kind.INTEGER, defaultValue, false);
    }

    static ParamDef requiredTensors(String name) {
        return new ParamDef(name, Kind.TENSORS, null, true);
    }
}
