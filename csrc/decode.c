/* decode.c: `core.decode(text [, raw_map])`, a JSON:API document decoder. lua-cjson parses the text
 * (a private `cjson.safe` instance, so user settings never change ours); this file then links the
 * document in place:
 *
 *   - each resource becomes one table holding `id`, `type`, its attributes as fields and its
 *     relationships as fields pointing at other resource tables. The table IS the attributes table
 *     cjson built (mutated in place: copying every attribute would cost as much as parsing it);
 *   - an identity map makes the same type+id the same table everywhere; linkage to a resource absent
 *     from the document becomes a shared `{ id =, type = }` stub; cycles are fine. The map is two
 *     levels, type -> id -> table: both keys are strings cjson already made, so a lookup builds no
 *     new string. A type+id given more than once is one table holding the union of its copies, member
 *     by member, the copy registered later winning (its nulls too). `included` is registered before
 *     `data` (so that primary data is linked while its tables are in cache): primary data wins over
 *     included and, within either, the later copy wins, as a repeated member name does in cjson.
 *     Relationships win over attributes of any copy, id and type over both;
 *   - ids are strings: a numeric id (the API sends none) is its decimal string when integral and
 *     below 2^53, and any other is a decode error: cjson parses 2^53 and 2^53 + 1 to one double, and
 *     two resources silently merged would be a wrong answer;
 *   - JSON null is removed from objects; in arrays null elements are dropped and the array compacted,
 *     so `#` and ipairs work (raw access keeps the original positions);
 *   - integral floats become integers on 5.3+ (|n| < 2^53, so the conversion is exact);
 *   - objects with a string `utc` and a number `epoch` get the "clinch.DateTime" metatable.
 *
 * raw access: when raw_map is given, raw_map[resource] = text for every resource (not stubs). The Lua
 * layer (jsonapi.raw) re-parses the text on demand and finds the untouched cjson object by type and id
 * (nulls as cjson.null). Nothing is copied at decode time; one table store per resource is the whole
 * cost.
 *
 * Malformed input never raises: the result is nil, a message "<where>: <what>" and the kind "decode" (only a
 * non-string text or a memory error raise). The top level must be an object; `[]` too is refused,
 * although cjson makes it the same empty table as `{}`: the text's first byte decides. Nothing here
 * holds malloc'd memory, so even a memory error raised inside the Lua API leaks nothing.
 *
 * Cost (`make bench`): the walk over every value through the Lua C API is most of the linking time;
 * on a 100-candidate page it alone (bench/walk_floor.c) costs 9-13% of cjson.decode on Lua 5.4 and
 * 19-22% on LuaJIT. */
#ifndef CLINCH_DECODE_C
#define CLINCH_DECODE_C

#include "compat.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DECODE_MAX_DEPTH 128
/* Lua stack slots: what one level of decode_walk_table/decode_walk_array uses at most, and what the linker's deepest
 * frame outside the walk needs (including a message being built). decode_l_decode reserves it all up front,
 * so nothing below has to check, or fail, on the way. */
#define DECODE_WALK_SLOTS 4
#define DECODE_LINK_SLOTS 48
#define DECODE_DATETIME_MT "clinch.DateTime"

/* Upvalues of core.decode: the parser, the DateTime metatable, and the member names the linker looks up
 * (pushing a kept string is cheaper than interning a literal every time). */
#define DECODE_UV_CJSON_DECODE lua_upvalueindex(1) /* the private instance's decode, or an error string */
#define DECODE_UV_DATETIME lua_upvalueindex(2)     /* the DateTime metatable */
#define DECODE_UV_K_ID lua_upvalueindex(3)
#define DECODE_UV_K_TYPE lua_upvalueindex(4)
#define DECODE_UV_K_ATTRIBUTES lua_upvalueindex(5)
#define DECODE_UV_K_RELATIONSHIPS lua_upvalueindex(6)
#define DECODE_UV_K_DATA lua_upvalueindex(7)
#define DECODE_UV_K_UTC lua_upvalueindex(8)
#define DECODE_UV_COUNT 8

static const char *const decode_keys[] = {"id", "type", "attributes", "relationships", "data", "utc"};

typedef struct {
    lua_State *L;
    int types;  /* abs index: identity map, type -> { id -> resource table }; nil while one type is all
                 * there was, its id map being in `last` (most documents have one) */
    int last;   /* abs index of two slots: the last type looked up and its id map */
    int stubs;  /* abs index: nil, then the set of the stubs made so far */
    int src;    /* abs index of the text, what raw_map points resources at; 0 without raw_map */
    int rawmap; /* abs index of raw_map, 0 without it */
    int repeats; /* abs index: nil until a type+id is given twice, then the set of those tables */
} decode_ctx;

/* Where a problem is. Formatted only when there is one: building a path per resource would cost
 * more than linking it. */
typedef struct {
    const char *base;   /* "data", "included", "errors", ... */
    int index;          /* > 0: base[index] */
    const char *rel;    /* relationship name, or NULL */
    int rel_data;       /* with rel: 0 the relationship, 1 its data, 2 data[rel_index] */
    int rel_index;
    const char *member; /* a trailing member such as "attributes", or NULL */
} decode_where;

static void decode_push_where(lua_State *L, const decode_where *w) {
    int n = 1;
    lua_pushstring(L, w->base);
    if (w->index > 0) {
        lua_pushfstring(L, "[%d]", w->index);
        n++;
    }
    if (w->rel) {
        lua_pushfstring(L, ".relationships.%s", w->rel);
        n++;
        if (w->rel_data) {
            lua_pushliteral(L, ".data");
            n++;
        }
        if (w->rel_data == 2) {
            lua_pushfstring(L, "[%d]", w->rel_index);
            n++;
        }
    }
    if (w->member) {
        lua_pushfstring(L, ".%s", w->member);
        n++;
    }
    lua_concat(L, n);
}

/* Pushes "<where>: <message>" and returns -1, the callers' failure value. */
static int decode_failf(lua_State *L, const decode_where *w, const char *fmt, ...) {
    va_list ap;
    decode_push_where(L, w);
    lua_pushliteral(L, ": ");
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 3);
    return -1;
}

/* Turns the message on top into core.decode's failure: nil, message, kind. */
static int decode_fail_result(lua_State *L, const char *kind) {
    lua_pushnil(L);
    lua_insert(L, -2);
    lua_pushstring(L, kind);
    return 3;
}

static int decode_is_null(lua_State *L, int idx) {
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* JSON kind of the value at idx, for messages. cjson arrays have element 1 (or are empty). */
static const char *decode_json_kind(lua_State *L, int idx) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return "nothing";
    case LUA_TLIGHTUSERDATA: return "null";
    case LUA_TBOOLEAN: return "boolean";
    case LUA_TNUMBER: return "number";
    case LUA_TSTRING: return "string";
    case LUA_TTABLE: {
        int is_array;
        lua_rawgeti(L, idx, 1);
        is_array = !lua_isnil(L, -1);
        lua_pop(L, 1);
        return is_array ? "array" : "object";
    }
    default: return lua_typename(L, lua_type(L, idx));
    }
}

/* True when the table at idx is a JSON object (possibly empty): it has no element 1. */
static int decode_table_is_object(lua_State *L, int idx) {
    int r;
    lua_rawgeti(L, idx, 1);
    r = lua_isnil(L, -1);
    lua_pop(L, 1);
    return r;
}

/* A cjson table is an array when it has element 1; an empty table counts as an (empty) array. */
static int decode_table_is_array(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (!decode_table_is_object(L, idx)) return 1;
    lua_pushnil(L);
    if (!lua_next(L, idx)) return 1;
    lua_pop(L, 2);
    return 0;
}

#if LUA_VERSION_NUM >= 503
/* Integral and within 2^53, so that the integer is exactly the number the text said. */
static int decode_integral(lua_Number n) {
    return n == floor(n) && n > -9007199254740992.0 && n < 9007199254740992.0;
}
#endif

static const decode_where decode_where_document = {"document", 0, NULL, 0, 0, NULL};

static int decode_walk_table(lua_State *L, int t, int depth, int root);

/* Cleans an array in place: nulls dropped (compacting), numbers and nested tables converted. */
static int decode_walk_array(lua_State *L, int t, int depth) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, t), i, j = 0;
    for (i = 1; i <= n; i++) {
        int changed = 0;
        lua_rawgeti(L, t, i);
        switch (lua_type(L, -1)) {
        case LUA_TLIGHTUSERDATA:
            lua_pop(L, 1);
            continue;
#if LUA_VERSION_NUM >= 503
        case LUA_TNUMBER:
            if (!lua_isinteger(L, -1)) {
                lua_Number x = lua_tonumber(L, -1);
                if (decode_integral(x)) {
                    lua_pop(L, 1);
                    lua_pushinteger(L, (lua_Integer)x);
                    changed = 1;
                }
            }
            break;
#endif
        case LUA_TTABLE:
            if (decode_walk_table(L, lua_gettop(L), depth + 1, 0)) return -1;
            break;
        default: break;
        }
        j++;
        if (changed || j != i) lua_rawseti(L, t, (int)j);
        else lua_pop(L, 1);
    }
    for (i = j + 1; i <= n; i++) {
        lua_pushnil(L);
        lua_rawseti(L, t, (int)i);
    }
    return 0;
}

/* Cleans the table at abs index t in place (see the header). `root` tables (attributes, meta) are
 * never DateTimes themselves. Returns 0, or -1 with a message pushed. */
static int decode_walk_table(lua_State *L, int t, int depth, int root) {
    int has_epoch = 0;
    /* cjson already bounds nesting; this bounds the C recursion and the Lua stack decode_l_decode reserved
     * (DECODE_WALK_SLOTS per level) all the same. */
    if (depth > DECODE_MAX_DEPTH) return decode_failf(L, &decode_where_document, "nesting too deep");
    lua_pushnil(L);
    if (!lua_next(L, t)) return 0;
    if (lua_type(L, -2) == LUA_TNUMBER) {
        lua_pop(L, 2);
        return decode_walk_array(L, t, depth);
    }
    do {
        switch (lua_type(L, -1)) {
        case LUA_TLIGHTUSERDATA: /* null: assigning nil to an existing field is allowed in lua_next */
            lua_pushvalue(L, -2);
            lua_pushnil(L);
            lua_rawset(L, t);
            break;
        case LUA_TNUMBER: {
#if LUA_VERSION_NUM >= 503
            if (!lua_isinteger(L, -1)) {
                lua_Number x = lua_tonumber(L, -1);
                if (decode_integral(x)) {
                    lua_pushvalue(L, -2);
                    lua_pushinteger(L, (lua_Integer)x);
                    lua_rawset(L, t);
                }
            }
#endif
            if (!root) {
                size_t len;
                const char *k = lua_tolstring(L, -2, &len); /* keys of a cjson object are strings */
                if (len == 5 && memcmp(k, "epoch", 5) == 0) has_epoch = 1;
            }
            break;
        }
        case LUA_TTABLE:
            if (decode_walk_table(L, lua_gettop(L), depth + 1, 0)) return -1;
            break;
        default: break;
        }
        lua_pop(L, 1);
    } while (lua_next(L, t));
    if (has_epoch) { /* only then look for utc: most objects are not DateTimes */
        lua_pushvalue(L, DECODE_UV_K_UTC);
        lua_rawget(L, t);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, DECODE_UV_DATETIME);
            lua_setmetatable(L, t);
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Pushes the id of the object at abs index r as a string. A number is its decimal string when it is
 * integral and below 2^53; any other number may not be what the text said (cjson parsed it to a
 * double: 2^53 and 2^53 + 1 are one), so it is refused rather than risk merging two resources.
 * Returns 0, or -1 with a message pushed. `what` is "resource" or "resource identifier". */
static int decode_push_id(lua_State *L, int r, const decode_where *w, const char *what) {
    lua_pushvalue(L, DECODE_UV_K_ID);
    lua_rawget(L, r);
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: return 0;
    case LUA_TNUMBER: {
        lua_Number x = lua_tonumber(L, -1);
        char buf[32];
        if (x != floor(x)) /* NaN too */
            return decode_failf(L, w, "numeric %s id %f is not an integer, so its text cannot be known exactly; "
                                      "the API sends ids as strings", what, x);
        if (fabs(x) >= 9007199254740992.0)
            return decode_failf(L, w, "numeric %s id %f is beyond 2^53 and cannot be kept exactly; the API sends "
                                      "ids as strings", what, x);
        lua_pop(L, 1);
        snprintf(buf, sizeof buf, "%.0f", x);
        lua_pushstring(L, buf);
        return 0;
    }
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA: return decode_failf(L, w, "%s has no id", what);
    default: return decode_failf(L, w, "%s id must be a string, got %s", what, decode_json_kind(L, -1));
    }
}

static int decode_push_type(lua_State *L, int r, const decode_where *w, const char *what) {
    lua_pushvalue(L, DECODE_UV_K_TYPE);
    lua_rawget(L, r);
    if (lua_type(L, -1) == LUA_TSTRING) return 0;
    if (lua_isnil(L, -1) || decode_is_null(L, -1)) return decode_failf(L, w, "%s has no type", what);
    return decode_failf(L, w, "%s type must be a string, got %s", what, decode_json_kind(L, -1));
}

/* With type at -2 and id at -1, pushes the id map of that type (created when new).
 * Stack: type id -> type id byid */
static void decode_push_byid(decode_ctx *c) {
    lua_State *L = c->L;
    if (lua_rawequal(L, -2, c->last)) { /* runs of one type are the common case */
        lua_pushvalue(L, c->last + 1);
        return;
    }
    if (lua_isnil(L, c->last)) { /* the first type: its map stays in `last` alone until another comes */
        lua_createtable(L, 0, 8);
    } else {
        if (lua_isnil(L, c->types)) { /* a second type: from now on every map is in `types` */
            lua_createtable(L, 0, 4);
            lua_pushvalue(L, c->last);
            lua_pushvalue(L, c->last + 1);
            lua_rawset(L, -3);
            lua_replace(L, c->types);
        }
        lua_pushvalue(L, -2);
        lua_rawget(L, c->types);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_createtable(L, 0, 8);
            lua_pushvalue(L, -3);
            lua_pushvalue(L, -2);
            lua_rawset(L, c->types);
        }
    }
    lua_pushvalue(L, -3);
    lua_replace(L, c->last);
    lua_pushvalue(L, -1);
    lua_replace(L, c->last + 1);
}

/* Adds the table at abs index t to the set of repeated resources. */
static void decode_mark_repeated(decode_ctx *c, int t) {
    lua_State *L = c->L;
    if (lua_isnil(L, c->repeats)) {
        lua_newtable(L);
        lua_replace(L, c->repeats);
    }
    lua_pushvalue(L, t);
    lua_pushboolean(L, 1);
    lua_rawset(L, c->repeats);
}

/* With type id byid on the stack, looks the id up in byid. Returns 0 (nothing pushed) when the
 * type+id is new, else pushes the table already registered and returns its abs index; *repeated is
 * set when that table is a resource given before (not a stub). */
static inline int decode_find_registered(decode_ctx *c, int *repeated) {
    lua_State *L = c->L;
    int found, stub;
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    found = lua_gettop(L);
    stub = 0;
    if (!lua_isnil(L, c->stubs)) {
        lua_pushvalue(L, found);
        lua_rawget(L, c->stubs);
        stub = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (stub) { /* a stub made for an earlier forward reference: it becomes this resource */
        lua_pushvalue(L, found);
        lua_pushnil(L);
        lua_rawset(L, c->stubs);
    } else {
        *repeated = 1;
        decode_mark_repeated(c, found);
    }
    return found;
}

/* Pushes the cleaned attributes table of the resource object at abs index r (a new empty one, also
 * stored as r.attributes, when it has none). `found` is the table registered earlier for this
 * type+id, or 0; with `repeated`, this copy's nulls remove members from it. Returns 0, or -1 with a
 * message pushed. */
static inline int decode_push_attributes(decode_ctx *c, int r, const decode_where *w, int found, int repeated) {
    lua_State *L = c->L;
    lua_pushvalue(L, DECODE_UV_K_ATTRIBUTES);
    lua_rawget(L, r);
    if (lua_type(L, -1) == LUA_TTABLE) {
        if (!decode_table_is_object(L, -1)) {
            decode_where wa = *w;
            wa.member = "attributes";
            return decode_failf(L, &wa, "expected object, got array");
        }
        if (repeated) { /* this copy's nulls remove what earlier copies said; decode_walk_table drops them */
            int a = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, a)) {
                if (decode_is_null(L, -1)) {
                    lua_pushvalue(L, -2);
                    lua_pushnil(L);
                    lua_rawset(L, found);
                }
                lua_pop(L, 1);
            }
        }
        if (decode_walk_table(L, lua_gettop(L), 4, 1)) return -1;
    } else if (lua_isnil(L, -1) || decode_is_null(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);
        lua_pushvalue(L, DECODE_UV_K_ATTRIBUTES);
        lua_pushvalue(L, -2);
        lua_rawset(L, r);
    } else {
        decode_where wa = *w;
        wa.member = "attributes";
        return decode_failf(L, &wa, "expected object, got %s", decode_json_kind(L, -1));
    }
    return 0;
}

/* Registers the resource object at abs index r: validates it, turns its attributes into the resource
 * table and enters it in the identity map. Pushes the resource table and returns 1 when new, 0 when it
 * repeats an earlier type+id (the earlier table is pushed), -1 on error. The resource table is left in
 * r.attributes for decode_link_resource. A repeat is registered later than the copies before it, so its
 * attributes, nulls included, win over theirs; decode_link_repeats settles the relationships. */
static int decode_register_resource(decode_ctx *c, int r, const decode_where *w) {
    lua_State *L = c->L;
    int top = lua_gettop(L), res, found, repeated = 0;
    /* an array fails below for want of a type */
    if (lua_type(L, r) != LUA_TTABLE)
        return decode_failf(L, w, "expected resource object, got %s", decode_json_kind(L, r));
    if (decode_push_type(L, r, w, "resource") || decode_push_id(L, r, w, "resource")) return -1;
    decode_push_byid(c); /* type id byid */
    found = decode_find_registered(c, &repeated);
    if (decode_push_attributes(c, r, w, found, repeated)) return -1;
    if (found) { /* the attributes move into the earlier table, which others already point at */
        int a = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, a)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, found);
        }
        lua_pop(L, 1);
        lua_pushvalue(L, DECODE_UV_K_ATTRIBUTES);
        lua_pushvalue(L, found);
        lua_rawset(L, r);
    }
    res = lua_gettop(L); /* type id byid res */
    lua_pushvalue(L, DECODE_UV_K_ID);
    lua_pushvalue(L, res - 2);
    lua_rawset(L, res);
    lua_pushvalue(L, DECODE_UV_K_TYPE);
    lua_pushvalue(L, res - 3);
    lua_rawset(L, res);
    lua_pushvalue(L, res - 2);
    lua_pushvalue(L, res);
    lua_rawset(L, res - 1);
    if (c->src) {
        lua_pushvalue(L, res);
        lua_pushvalue(L, c->src);
        lua_rawset(L, c->rawmap);
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return !repeated;
}

/* Resolves the resource identifier object at abs index d to its resource table (or a shared stub)
 * and pushes it. Returns 0 or -1 with a message pushed. */
static int decode_resolve(decode_ctx *c, int d, const decode_where *w) {
    lua_State *L = c->L;
    int top = lua_gettop(L);
    if (lua_type(L, d) != LUA_TTABLE)
        return decode_failf(L, w, "expected resource identifier object, got %s", decode_json_kind(L, d));
    if (decode_push_type(L, d, w, "resource identifier") || decode_push_id(L, d, w, "resource identifier")) return -1;
    decode_push_byid(c); /* type id byid */
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) { /* not in the document: a stub, registered so that it is shared */
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, DECODE_UV_K_ID);
        lua_pushvalue(L, top + 2);
        lua_rawset(L, -3);
        lua_pushvalue(L, DECODE_UV_K_TYPE);
        lua_pushvalue(L, top + 1);
        lua_rawset(L, -3);
        lua_pushvalue(L, top + 2);
        lua_pushvalue(L, -2);
        lua_rawset(L, top + 3);
        if (lua_isnil(L, c->stubs)) {
            lua_newtable(L);
            lua_replace(L, c->stubs);
        }
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 1);
        lua_rawset(L, c->stubs);
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 0;
}

/* Sets the relationships of the registered resource object at abs index r as fields of its resource
 * table. Returns 0 or -1 with a message pushed. */
static int decode_link_resource(decode_ctx *c, int r, const decode_where *w) {
    lua_State *L = c->L;
    int top = lua_gettop(L), res, rels;
    decode_where wr = *w;
    lua_pushvalue(L, DECODE_UV_K_RELATIONSHIPS);
    lua_rawget(L, r);
    if (lua_isnil(L, -1) || decode_is_null(L, -1)) {
        lua_settop(L, top);
        return 0;
    }
    if (lua_type(L, -1) != LUA_TTABLE || !decode_table_is_object(L, -1)) {
        wr.member = "relationships";
        return decode_failf(L, &wr, "expected object, got %s", decode_json_kind(L, -1));
    }
    rels = lua_gettop(L);
    lua_pushvalue(L, DECODE_UV_K_ATTRIBUTES);
    lua_rawget(L, r);
    res = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, rels)) { /* name rel */
        int rel = lua_gettop(L), d;
        size_t nlen;
        const char *name = lua_tolstring(L, rel - 1, &nlen);
        /* id and type win over everything */
        if ((nlen == 2 && memcmp(name, "id", 2) == 0) || (nlen == 4 && memcmp(name, "type", 4) == 0)) {
            lua_pop(L, 1);
            continue;
        }
        wr.rel = name;
        wr.rel_data = 0;
        if (lua_type(L, rel) != LUA_TTABLE || !decode_table_is_object(L, rel))
            return decode_failf(L, &wr, "expected object, got %s", decode_json_kind(L, rel));
        lua_pushvalue(L, DECODE_UV_K_DATA);
        lua_rawget(L, rel);
        d = lua_gettop(L);
        switch (lua_type(L, d)) {
        case LUA_TNIL: /* links/meta only: the field stays absent */
            break;
        case LUA_TLIGHTUSERDATA: /* to-one, empty */
            lua_pushvalue(L, rel - 1);
            lua_pushnil(L);
            lua_rawset(L, res);
            break;
        case LUA_TTABLE:
            if (decode_table_is_array(L, d)) { /* to-many: identifiers replaced by their tables in place */
                int i, n = (int)lua_rawlen(L, d);
                wr.rel_data = 2;
                for (i = 1; i <= n; i++) {
                    lua_rawgeti(L, d, i);
                    wr.rel_index = i;
                    if (decode_resolve(c, d + 1, &wr)) return -1;
                    lua_rawseti(L, d, i);
                    lua_pop(L, 1);
                }
                lua_pushvalue(L, rel - 1);
                lua_pushvalue(L, d);
                lua_rawset(L, res);
            } else {
                wr.rel_data = 1;
                if (decode_resolve(c, d, &wr)) return -1;
                lua_pushvalue(L, rel - 1);
                lua_insert(L, -2);
                lua_rawset(L, res);
            }
            break;
        default:
            wr.rel_data = 1;
            return decode_failf(L, &wr, "expected object, array or null, got %s", decode_json_kind(L, d));
        }
        lua_settop(L, rel - 1);
    }
    lua_settop(L, top);
    return 0;
}

/* Sets a cleaned top-level member (meta, links, jsonapi) in doc; null and absent stay nil. */
static int decode_top_member(lua_State *L, int root, int doc, const char *name) {
    lua_pushstring(L, name);
    lua_rawget(L, root);
    if (lua_type(L, -1) == LUA_TTABLE) {
        if (decode_walk_table(L, lua_gettop(L), 2, 1)) return -1;
    } else if (lua_isnil(L, -1) || decode_is_null(L, -1)) { /* (absent, the usual case: nothing to set) */
        lua_pop(L, 1);
        return 0;
    }
    lua_setfield(L, doc, name);
    return 0;
}

/* Links again, in registration order, every copy of a resource given more than once, once all
 * attributes are in: so the later copy wins each relationship, and relationships win over attributes
 * of any copy. Linking a copy twice is harmless: resolved identifiers are resource tables, which have
 * id and type. `list` is an abs index of included or data (an array), or of a single resource. */
static int decode_link_repeats(decode_ctx *c, int list, const char *base) {
    lua_State *L = c->L;
    decode_where w = {NULL, 0, NULL, 0, 0, NULL};
    int i, n = 1, single = !decode_table_is_array(L, list);
    w.base = base;
    if (!single) n = (int)lua_rawlen(L, list);
    for (i = 1; i <= n; i++) {
        int r, repeated;
        if (single) lua_pushvalue(L, list);
        else lua_rawgeti(L, list, i);
        r = lua_gettop(L);
        w.index = single ? 0 : i;
        lua_pushvalue(L, DECODE_UV_K_ATTRIBUTES);
        lua_rawget(L, r);
        lua_rawget(L, c->repeats);
        repeated = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (repeated && decode_link_resource(c, r, &w)) return -1;
        lua_pop(L, 1);
    }
    return 0;
}

/* Registers the resources of `included` (abs index inc, an array) into a new array of the fresh ones
 * (repeats left out), pushed. Returns 0, or -1 with a message pushed. */
static inline int decode_register_included(decode_ctx *c, int inc) {
    lua_State *L = c->L;
    decode_where w = {"included", 0, NULL, 0, 0, NULL};
    int i, n = (int)lua_rawlen(L, inc), out_inc, ninc = 0;
    lua_createtable(L, n, 0);
    out_inc = lua_gettop(L);
    for (i = 1; i <= n; i++) {
        int fresh;
        lua_rawgeti(L, inc, i);
        w.index = i;
        fresh = decode_register_resource(c, out_inc + 1, &w);
        if (fresh < 0) return -1;
        if (fresh) lua_rawseti(L, out_inc, ++ninc);
        else lua_pop(L, 1);
        lua_pop(L, 1);
    }
    return 0;
}

/* Registers and links the primary data at abs index data. Sets *out_data to the abs index of what
 * doc.data becomes (an array of resource tables, or one), pushed; 0 for null or absent data. Returns
 * 0, or -1 with a message pushed. */
static inline int decode_link_data(decode_ctx *c, int data, int *out_data) {
    lua_State *L = c->L;
    decode_where w = {"data", 0, NULL, 0, 0, NULL};
    int i, n, out;
    switch (lua_type(L, data)) {
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA:
        break;
    case LUA_TTABLE:
        if (decode_table_is_array(L, data)) {
            n = (int)lua_rawlen(L, data);
            lua_createtable(L, n, 0);
            out = lua_gettop(L);
            for (i = 1; i <= n; i++) {
                lua_rawgeti(L, data, i);
                w.index = i;
                if (decode_register_resource(c, out + 1, &w) < 0 || decode_link_resource(c, out + 1, &w)) return -1;
                lua_rawseti(L, out, i);
                lua_pop(L, 1);
            }
            *out_data = out;
        } else {
            if (decode_register_resource(c, data, &w) < 0 || decode_link_resource(c, data, &w)) return -1;
            *out_data = lua_gettop(L);
        }
        break;
    default:
        return decode_failf(L, &w, "expected object, array or null, got %s", decode_json_kind(L, data));
    }
    return 0;
}

/* Links the registered resources of `included` (abs index inc). Returns 0, or -1 with a message pushed. */
static inline int decode_link_included(decode_ctx *c, int inc) {
    lua_State *L = c->L;
    decode_where w = {"included", 0, NULL, 0, 0, NULL};
    int i, n = (int)lua_rawlen(L, inc);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, inc, i);
        w.index = i;
        if (decode_link_resource(c, lua_gettop(L), &w)) return -1;
        lua_pop(L, 1);
    }
    return 0;
}

/* Sets doc.errors, doc.meta, doc.links and doc.jsonapi from the cjson tree at abs index root. Returns 0,
 * or -1 with a message pushed. */
static inline int decode_other_members(lua_State *L, int root, int doc) {
    lua_pushliteral(L, "errors");
    lua_rawget(L, root);
    if (lua_type(L, -1) == LUA_TTABLE && decode_table_is_array(L, -1)) {
        if (decode_walk_table(L, lua_gettop(L), 2, 1)) return -1;
        lua_setfield(L, doc, "errors");
    } else if (!lua_isnil(L, -1) && !decode_is_null(L, -1)) {
        decode_where we = {"errors", 0, NULL, 0, 0, NULL};
        return decode_failf(L, &we, "expected array, got %s", decode_json_kind(L, -1));
    } else {
        lua_pop(L, 1);
    }
    if (decode_top_member(L, root, doc, "meta") || decode_top_member(L, root, doc, "links") ||
        decode_top_member(L, root, doc, "jsonapi"))
        return -1;
    return 0;
}

/* Links the cjson tree at abs index root into a new doc table pushed on the stack. */
static int decode_link_document(decode_ctx *c, int root) {
    lua_State *L = c->L;
    int doc, data, inc = 0, out_data = 0, out_inc = 0;

    if (lua_type(L, root) != LUA_TTABLE || !decode_table_is_object(L, root)) {
        decode_where wt = {"top level", 0, NULL, 0, 0, NULL};
        return decode_failf(L, &wt, "expected object, got %s", decode_json_kind(L, root));
    }
    lua_createtable(L, 0, 6);
    doc = lua_gettop(L);

    lua_pushvalue(L, DECODE_UV_K_DATA);
    lua_rawget(L, root);
    data = lua_gettop(L);
    lua_pushliteral(L, "included");
    lua_rawget(L, root);
    if (lua_type(L, -1) == LUA_TTABLE && decode_table_is_array(L, -1)) {
        inc = lua_gettop(L);
    } else if (!lua_isnil(L, -1) && !decode_is_null(L, -1)) {
        decode_where w = {"included", 0, NULL, 0, 0, NULL};
        return decode_failf(L, &w, "expected array, got %s", decode_json_kind(L, -1));
    }

    /* Included resources are registered first, so that primary data can be linked as it is
     * registered, while its tables are still in cache. A forward reference between primary resources
     * makes a stub that the resource takes over when it comes (see decode_register_resource). */
    if (inc) {
        if (decode_register_included(c, inc)) return -1;
        out_inc = lua_gettop(L);
    }
    if (decode_link_data(c, data, &out_data)) return -1;
    if (inc && decode_link_included(c, inc)) return -1;
    if (!lua_isnil(L, c->repeats) && ((inc && decode_link_repeats(c, inc, "included")) ||
                                      (lua_type(L, data) == LUA_TTABLE && decode_link_repeats(c, data, "data"))))
        return -1;

    if (out_data) {
        lua_pushvalue(L, out_data);
        lua_setfield(L, doc, "data");
    }
    if (out_inc) {
        lua_pushvalue(L, out_inc);
        lua_setfield(L, doc, "included");
    }
    if (decode_other_members(L, root, doc)) return -1;
    lua_settop(L, doc);
    return 0;
}

/* True when the text at index 1, which cjson parsed, is an object: its first byte after cjson's
 * whitespace is '{'. */
static int decode_text_is_object(lua_State *L) {
    size_t len, i = 0;
    const char *s = lua_tolstring(L, 1, &len);
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i < len && s[i] == '{';
}

/* core.decode(text [, raw_map]) -> doc | nil, message, kind: "decode" for a text that is not the
 * document, "unsupported" without lua-cjson. */
static int decode_l_decode(lua_State *L) {
    decode_ctx c;
    int root;
    luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    luaL_checkstack(L, DECODE_LINK_SLOTS + DECODE_WALK_SLOTS * (DECODE_MAX_DEPTH + 1), "decode");
    if (!lua_isfunction(L, DECODE_UV_CJSON_DECODE)) {
        lua_pushvalue(L, DECODE_UV_CJSON_DECODE);
        return decode_fail_result(L, "unsupported");
    }
    lua_pushvalue(L, DECODE_UV_CJSON_DECODE);
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
        lua_pushfstring(L, "not JSON: %s", lua_isstring(L, -2) ? lua_tostring(L, -2) : "parser failed");
        return decode_fail_result(L, "decode");
    }
    if (lua_isnil(L, 3)) {
        const char *msg = lua_isstring(L, 4) ? lua_tostring(L, 4) : "parser failed";
        if (strncmp(msg, "Found too many nested", 21) == 0)
            lua_pushfstring(L, "document: nesting deeper than %d levels (%s)", DECODE_MAX_DEPTH, msg);
        else
            lua_pushfstring(L, "not JSON: %s", msg);
        return decode_fail_result(L, "decode");
    }
    lua_settop(L, 3);
    root = 3;
    if (lua_type(L, root) == LUA_TTABLE && !decode_text_is_object(L)) {
        /* cjson gives [] and {} as the same empty table: only the text tells them apart */
        decode_where wt = {"top level", 0, NULL, 0, 0, NULL};
        decode_failf(L, &wt, "expected object, got array");
        return decode_fail_result(L, "decode");
    }

    c.L = L;
    c.src = 0;
    c.rawmap = 0;
    lua_pushnil(L);
    c.types = lua_gettop(L);
    lua_pushnil(L);
    c.stubs = lua_gettop(L);
    lua_pushnil(L);
    c.last = lua_gettop(L);
    lua_pushnil(L);
    lua_pushnil(L);
    c.repeats = lua_gettop(L);
    if (lua_istable(L, 2)) {
        c.rawmap = 2;
        c.src = 1; /* (luaL_checkstring made it a string) */
    }
    if (decode_link_document(&c, root)) return decode_fail_result(L, "decode");
    return 1;
}

/* DateTime metamethods: tostring gives utc, comparisons use epoch. No __index: the fields are plain. */
static lua_Number decode_datetime_epoch(lua_State *L, int idx) {
    lua_Number e;
    if (lua_type(L, idx) != LUA_TTABLE) luaL_argerror(L, idx, "DateTime expected");
    lua_getfield(L, idx, "epoch");
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_argerror(L, idx, "DateTime expected");
    e = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return e;
}

static int decode_l_datetime_tostring(lua_State *L) {
    lua_getfield(L, 1, "utc");
    if (!lua_isstring(L, -1)) return luaL_error(L, "DateTime without utc");
    lua_tostring(L, -1);
    return 1;
}

/* == never raises: anything without a numeric epoch is simply not equal. */
static int decode_l_datetime_eq(lua_State *L) {
    int ok = 1, i;
    lua_Number e[2] = {0, 0};
    for (i = 0; i < 2; i++) {
        if (lua_type(L, i + 1) != LUA_TTABLE) {
            ok = 0;
            break;
        }
        lua_getfield(L, i + 1, "epoch");
        if (lua_type(L, -1) != LUA_TNUMBER) ok = 0;
        else e[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_pushboolean(L, ok && e[0] == e[1]);
    return 1;
}

static int decode_l_datetime_lt(lua_State *L) {
    lua_pushboolean(L, decode_datetime_epoch(L, 1) < decode_datetime_epoch(L, 2));
    return 1;
}

static int decode_l_datetime_le(lua_State *L) {
    lua_pushboolean(L, decode_datetime_epoch(L, 1) <= decode_datetime_epoch(L, 2));
    return 1;
}

/* Calls f(arg) under pcall if f (at -2 after pushing) exists; used on the private cjson instance. */
static int decode_call_config(lua_State *L, int inst, const char *name, int arg_is_bool, int arg) {
    lua_getfield(L, inst, name);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (arg_is_bool) lua_pushboolean(L, arg);
    else lua_pushinteger(L, arg);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* Pushes the decode function of a private cjson.safe instance, or a message when lua-cjson is not
 * available. */
static void decode_push_cjson(lua_State *L) {
    int top = lua_gettop(L), inst;
    lua_getglobal(L, "require");
    if (!lua_isfunction(L, -1)) goto unavailable;
    lua_pushliteral(L, "cjson.safe");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) goto unavailable;
    lua_getfield(L, -1, "new");
    if (!lua_isfunction(L, -1)) goto unavailable;
    if (lua_pcall(L, 0, 1, 0) != LUA_OK || !lua_istable(L, -1)) goto unavailable;
    inst = lua_gettop(L);
    if (decode_call_config(L, inst, "decode_max_depth", 0, DECODE_MAX_DEPTH) ||
        decode_call_config(L, inst, "decode_invalid_numbers", 1, 0))
        goto unavailable;
    lua_getfield(L, inst, "decode");
    if (!lua_isfunction(L, -1)) goto unavailable;
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return;
unavailable:
    lua_settop(L, top);
    lua_pushliteral(L, "lua-cjson not available");
}

static void decode_open(lua_State *L) {
    static const luaL_Reg datetime_methods[] = {
        {"__tostring", decode_l_datetime_tostring},
        {"__eq", decode_l_datetime_eq},
        {"__lt", decode_l_datetime_lt},
        {"__le", decode_l_datetime_le},
        {NULL, NULL}};
    int i;
    decode_push_cjson(L);
    luaL_newmetatable(L, DECODE_DATETIME_MT);
    luaL_setfuncs(L, datetime_methods, 0);
    lua_pushliteral(L, DECODE_DATETIME_MT);
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "DateTime");
    for (i = 0; i < (int)(sizeof decode_keys / sizeof decode_keys[0]); i++) lua_pushstring(L, decode_keys[i]);
    lua_pushcclosure(L, decode_l_decode, DECODE_UV_COUNT);
    lua_setfield(L, -2, "decode");
}

#endif
