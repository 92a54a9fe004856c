// injector.c: the injector example plugin (see ../cmd/injector) in C, for
// small nodes. It implements containerd/nri's Wasm plugin ABI by hand, with
// no protobuf library: it decodes the one field it reads (ConfigureRequest
// .config) and encodes its two replies. Built with clang and wasi-libc
// (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32), it is a few KiB
// of code and needs a few pages of memory where the Go build needs 10 MB and
// ~6 MiB.
//
// Its config is the Go injector's format (../internal/inject), and it gives
// the same adjustments and byte-identical error messages: both are tested
// against ../internal/inject/testdata/configs.json.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))

// The result of a handler: ptr<<32 | len, with bit 31 of len marking an
// error string; 0 is an empty message.
typedef uint64_t result;

static result pack(const uint8_t *p, size_t n, int is_error) {
	// The host frees what it is given: hand it a heap copy.
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy) {
		__builtin_trap();
	}
	memcpy(copy, p, n);
	return (uint64_t)(uintptr_t)copy << 32 | (uint64_t)n | (is_error ? 1u << 31 : 0);
}

// buf is a growable byte buffer.
typedef struct {
	uint8_t *p;
	size_t len, cap;
} buf;

static void put(buf *b, const void *p, size_t n) {
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		while (cap < b->len + n) {
			cap *= 2;
		}
		b->p = realloc(b->p, cap);
		if (!b->p) {
			__builtin_trap();
		}
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_varint(buf *b, uint64_t v) {
	uint8_t c;
	do {
		c = v & 0x7f;
		v >>= 7;
		if (v) {
			c |= 0x80;
		}
		put(b, &c, 1);
	} while (v);
}

// put_bytes writes a length-delimited field.
static void put_bytes(buf *b, unsigned field, const void *p, size_t n) {
	put_varint(b, field << 3 | 2);
	put_varint(b, n);
	put(b, p, n);
}

// A KEY=VALUE of the config, pointing into it.
typedef struct {
	const char *key, *value;
	size_t klen, vlen;
	int line;
} kv;

typedef struct {
	kv *items;
	size_t n, cap;
} kvs;

static void add(kvs *s, kv item) {
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->items = realloc(s->items, s->cap * sizeof *s->items);
		if (!s->items) {
			__builtin_trap();
		}
	}
	s->items[s->n++] = item;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static int is_letter(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int valid_env(const char *k, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (!(is_letter(k[i]) || k[i] == '_' || (i > 0 && is_digit(k[i])))) {
			return 0;
		}
	}
	return n > 0;
}

static int valid_annotation(const char *k, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (!(is_letter(k[i]) || is_digit(k[i]) || (i > 0 && memchr("-_./", k[i], 4)))) {
			return 0;
		}
	}
	return n > 0;
}

// The reply to every CreateContainer, encoded once at Configure.
static buf reply;

// error is the last parse error, as the Go injector words it.
static buf error;

__attribute__((format(printf, 1, 2))) static int fail(const char *format, ...) {
	va_list ap;
	va_start(ap, format);
	int n = vsnprintf(NULL, 0, format, ap);
	va_end(ap);
	error.len = 0;
	put(&error, "", 0);
	char *p = malloc((size_t)n + 1);
	if (!p) {
		__builtin_trap();
	}
	va_start(ap, format);
	vsnprintf(p, (size_t)n + 1, format, ap);
	va_end(ap);
	put(&error, p, (size_t)n);
	free(p);
	return 0;
}

// parse reads the config (the Go injector's rules, see inject.Parse) into
// env and annotations, or fills error.
static int parse(const char *cfg, size_t size, kvs *env, kvs *ann) {
	int n = 0;
	for (size_t start = 0; start <= size; n++) {
		const char *end = memchr(cfg + start, '\n', size - start);
		size_t stop = end ? (size_t)(end - cfg) : size;
		const char *line = cfg + start;
		size_t len = stop - start;
		start = stop + 1;
		while (len && is_blank(*line)) {
			line++, len--;
		}
		while (len && is_blank(line[len - 1])) {
			len--;
		}
		if (!len || line[0] == '#') {
			continue;
		}
		size_t dlen = 0;
		while (dlen < len && !is_blank(line[dlen])) {
			dlen++;
		}
		const char *rest = line + dlen;
		size_t rlen = len - dlen;
		while (rlen && is_blank(*rest)) {
			rest++, rlen--;
		}
		const char *kind;
		kvs *dst;
		int (*valid)(const char *, size_t);
		const char *want;
		if (dlen == 3 && !memcmp(line, "env", 3)) {
			kind = "env", dst = env, valid = valid_env;
			want = "letters, digits and '_', not starting with a digit";
		} else if (dlen == 10 && !memcmp(line, "annotation", 10)) {
			kind = "annotation", dst = ann, valid = valid_annotation;
			want = "letters, digits, '-', '_', '.' and '/', starting with a letter or digit";
		} else {
			return fail("injector config: line %d: unknown directive \"%.*s\" in \"%.*s\" (want env or annotation)",
				n + 1, (int)dlen, line, (int)len, line);
		}
		const char *eq = memchr(rest, '=', rlen);
		if (!eq) {
			return fail("injector config: line %d: missing '=' in \"%.*s\" (want %s KEY=VALUE)",
				n + 1, (int)len, line, kind);
		}
		kv item = {rest, eq + 1, (size_t)(eq - rest), rlen - (size_t)(eq - rest) - 1, n + 1};
		if (!valid(item.key, item.klen)) {
			return fail("injector config: line %d: invalid %s key \"%.*s\" in \"%.*s\" (want %s)",
				n + 1, kind, (int)item.klen, item.key, (int)len, line, want);
		}
		for (size_t i = 0; i < dst->n; i++) {
			if (dst->items[i].klen == item.klen && !memcmp(dst->items[i].key, item.key, item.klen)) {
				return fail("injector config: line %d: duplicate %s key \"%.*s\" in \"%.*s\" (first set on line %d)",
					n + 1, kind, (int)item.klen, item.key, (int)len, line, dst->items[i].line);
			}
		}
		add(dst, item);
	}
	return 1;
}

// encode_pairs writes each KEY=VALUE as a message {1: key, 2: value} in
// field: KeyValue for env, a map entry for annotations.
static void encode_pairs(buf *b, unsigned field, const kvs *s) {
	for (size_t i = 0; i < s->n; i++) {
		buf entry = {0};
		put_bytes(&entry, 1, s->items[i].key, s->items[i].klen);
		put_bytes(&entry, 2, s->items[i].value, s->items[i].vlen);
		put_bytes(b, field, entry.p, entry.len);
		free(entry.p);
	}
}

// read_varint decodes a varint at *p, or returns 0 at the end of the input.
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			return 1;
		}
	}
	return 0;
}

// config_field finds ConfigureRequest.config (field 1) in a request.
static int config_field(const uint8_t *p, size_t n, const char **cfg, size_t *len) {
	const uint8_t *end = p + n;
	*cfg = "", *len = 0;
	while (p < end) {
		uint64_t tag, v;
		if (!read_varint(&p, end, &tag)) {
			return 0;
		}
		switch (tag & 7) {
		case 0:
			if (!read_varint(&p, end, &v)) {
				return 0;
			}
			break;
		case 1:
			p += 8;
			break;
		case 5:
			p += 4;
			break;
		case 2:
			if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p)) {
				return 0;
			}
			if (tag >> 3 == 1) {
				*cfg = (const char *)p, *len = v;
			}
			p += v;
			break;
		default:
			return 0;
		}
	}
	return p == end;
}

EXPORT("plugin_api_version") uint64_t plugin_api_version(void) { return 1; }

EXPORT("malloc") void *guest_malloc(size_t n) { return malloc(n); }
EXPORT("free") void guest_free(void *p) { free(p); }

EXPORT("plugin_configure") result plugin_configure(const uint8_t *req, size_t n) {
	const char *cfg;
	size_t len;
	if (!config_field(req, n, &cfg, &len)) {
		static const char msg[] = "injector: malformed ConfigureRequest";
		return pack((const uint8_t *)msg, sizeof msg - 1, 1);
	}
	kvs env = {0}, ann = {0};
	if (!parse(cfg, len, &env, &ann)) {
		free(env.items), free(ann.items);
		return pack(error.p, error.len, 1);
	}
	// CreateContainerResponse{adjust: ContainerAdjustment{annotations: 2, env: 4}}
	buf adjust = {0};
	encode_pairs(&adjust, 2, &ann);
	encode_pairs(&adjust, 4, &env);
	reply.len = 0;
	if (adjust.len) {
		put_bytes(&reply, 1, adjust.p, adjust.len);
	}
	free(adjust.p), free(env.items), free(ann.items);
	// ConfigureResponse{events: 1 << (CREATE_CONTAINER - 1)}
	static const uint8_t subscribe[] = {2 << 3 | 0, 1 << 3};
	return pack(subscribe, sizeof subscribe, 0);
}

EXPORT("plugin_create_container") result plugin_create_container(const uint8_t *req, size_t n) {
	(void)req, (void)n;
	return reply.len ? pack(reply.p, reply.len, 0) : 0;
}
