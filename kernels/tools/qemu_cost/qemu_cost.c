/* edgevlm's TCG plugin for qemu-user: exact executed-instruction counts per translated block, split by the
 * stages a guest program marks.
 *
 *   qemu-aarch64 -plugin libedgevlm-qemu-cost.so,out=FILE[,marker=ADDR,marker_end=ADDR,slots=ADDR,nslots=N]
 *                [,mode=inline|atomic] PROGRAM ARGS...
 *
 * Counting: every translated block (TB) gets a counter that an inline op adds 1 to each time the block runs
 * (plus one global counter adding the block's instruction count: the total the stages must add up to).
 * Inline ops are not atomic, so with several guest threads running at once increments can be lost; mode=atomic
 * counts with an atomic add in a callback instead (exact with threads, several times slower).
 *
 * Stages: the guest calls a no-op function (the runtime's edgevlm_stage_marker(int)) that loads one byte of a
 * table, slots[stage]. Plugin API v1 cannot read guest registers or memory, but it reports the address of
 * every load: the address names the stage. On each marker call the counts accumulated since the previous one
 * are booked to the stage that was current. Everything before the first marker is stage 0.
 *
 * Programs without markers (the stock tools) get stages from function entries instead: enter=ADDR:STAGE (any
 * number of them) makes every entry into the function at ADDR begin STAGE.
 *
 * Time: with clock=virtual (the default) the guest's clock_gettime / gettimeofday return a virtual clock, 1 ns
 * per guest instruction executed so far (plus a fixed epoch), written over the host's answer. Code whose path
 * depends on the time (llama.cpp formats "reserve took %.2f ms" into its log whether or not it is printed,
 * timeouts, anything polling a clock) then runs the same instructions every time: counts depend on the
 * program and its input only. In qemu-user guest memory is host memory at a fixed offset (guest_base), learnt
 * from the first translated instruction. clock=host leaves the host's time.
 *
 * Output (text, written to FILE.tmp-PID and renamed when complete):
 *   edgevlm-qemu-cost 1
 *   total INSNS            (the global counter)
 *   vcpus N                (guest threads seen)
 *   stage ID INSNS ENTRIES
 *   block PC N_INSNS BYTES_HEX STAGE:EXECS[,STAGE:EXECS...]   (blocks that ran, in order of translation)
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define MAX_STAGES 256
#define BUCKETS (1u << 18)

typedef struct {
    uint32_t stage;
    uint64_t execs;
} StageCount;

typedef struct Block {
    uint64_t execs; /* incremented by the inline op (or atomically): must stay at a fixed address */
    uint64_t booked; /* execs already booked to a stage */
    uint64_t pc;
    uint32_t n_insns;
    uint32_t n_bytes;
    uint8_t *bytes;
    StageCount *stages;
    uint32_t n_stages;
    uint32_t cap_stages;
    struct Block *next; /* hash chain */
} Block;

static struct {
    pthread_mutex_t mu;
    Block *buckets[BUCKETS];
    Block **all;
    size_t n_all, cap_all;
    uint64_t total; /* inline-added instruction count */
    uint32_t stage;
    uint64_t entries[MAX_STAGES];
    unsigned vcpus;
    int atomic;
    char *out;
    uint64_t marker, marker_end, slots, nslots;
    uint64_t enter_pc[MAX_STAGES];
    uint32_t enter_stage[MAX_STAGES];
    int n_enter;
    int host_clock;
    intptr_t guest_base;   /* host address - guest address (qemu-user maps guest memory linearly) */
    int have_base;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void die(const char *what) {
    fprintf(stderr, "edgevlm-qemu-cost: %s\n", what);
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) die("out of memory");
    return q;
}

static uint32_t hash(uint64_t pc, uint32_t n) {
    uint64_t h = (pc ^ ((uint64_t)n << 48)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 40) & (BUCKETS - 1);
}

/* The one record for a block of n instructions at pc: a block translated again (after a TB flush, or when a
 * jump lands inside another block) with the same start and length keeps counting into the same record. */
static Block *block_for(uint64_t pc, uint32_t n_insns, const uint8_t *bytes, uint32_t n_bytes) {
    uint32_t h = hash(pc, n_insns);
    for (Block *b = g.buckets[h]; b; b = b->next)
        if (b->pc == pc && b->n_insns == n_insns && b->n_bytes == n_bytes) return b;
    Block *b = calloc(1, sizeof *b);
    if (!b) die("out of memory");
    b->pc = pc;
    b->n_insns = n_insns;
    b->n_bytes = n_bytes;
    b->bytes = xrealloc(NULL, n_bytes ? n_bytes : 1);
    memcpy(b->bytes, bytes, n_bytes);
    b->next = g.buckets[h];
    g.buckets[h] = b;
    if (g.n_all == g.cap_all) {
        g.cap_all = g.cap_all ? 2 * g.cap_all : 4096;
        g.all = xrealloc(g.all, g.cap_all * sizeof *g.all);
    }
    g.all[g.n_all++] = b;
    return b;
}

static void book(Block *b, uint32_t stage, uint64_t d) {
    for (uint32_t i = 0; i < b->n_stages; ++i)
        if (b->stages[i].stage == stage) {
            b->stages[i].execs += d;
            return;
        }
    if (b->n_stages == b->cap_stages) {
        b->cap_stages = b->cap_stages ? 2 * b->cap_stages : 2;
        b->stages = xrealloc(b->stages, b->cap_stages * sizeof *b->stages);
    }
    b->stages[b->n_stages++] = (StageCount){stage, d};
}

/* Books every block's runs since the last switch to the current stage. Caller holds g.mu. */
static void book_all(void) {
    for (size_t i = 0; i < g.n_all; ++i) {
        Block *b = g.all[i];
        uint64_t now = __atomic_load_n(&b->execs, __ATOMIC_RELAXED);
        if (now != b->booked) {
            book(b, g.stage, now - b->booked);
            b->booked = now;
        }
    }
}

static void begin_stage(uint32_t stage) {
    pthread_mutex_lock(&g.mu);
    book_all();
    g.stage = stage;
    g.entries[g.stage]++;
    pthread_mutex_unlock(&g.mu);
}

static void on_marker_load(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata) {
    (void)vcpu, (void)info, (void)udata;
    if (vaddr >= g.slots && vaddr < g.slots + g.nslots) begin_stage((uint32_t)(vaddr - g.slots));
}

static void on_enter(unsigned int vcpu, void *udata) {
    (void)vcpu;
    begin_stage((uint32_t)(uintptr_t)udata);
}

static void on_exec_atomic(unsigned int vcpu, void *udata) {
    (void)vcpu;
    Block *b = udata;
    __atomic_add_fetch(&b->execs, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g.total, b->n_insns, __ATOMIC_RELAXED);
}

/* The virtual clock (see the header comment). The syscall's arguments are kept per guest thread between the
 * entry and the return callback. aarch64 Linux: clock_gettime 113 (clockid, struct timespec *),
 * gettimeofday 169 (struct timeval *, tz). */
#define SYS_CLOCK_GETTIME 113
#define SYS_GETTIMEOFDAY 169
#define VIRTUAL_EPOCH_S 1700000000ull
static __thread uint64_t syscall_arg[2];

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1, uint64_t a2, uint64_t a3,
                       uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8) {
    (void)id, (void)vcpu, (void)num, (void)a3, (void)a4, (void)a5, (void)a6, (void)a7, (void)a8;
    syscall_arg[0] = a1;
    syscall_arg[1] = a2;
}

static void on_syscall_ret(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, int64_t ret) {
    (void)id, (void)vcpu;
    if (ret != 0 || !g.have_base || (num != SYS_CLOCK_GETTIME && num != SYS_GETTIMEOFDAY)) return;
    const uint64_t ns = __atomic_load_n(&g.total, __ATOMIC_RELAXED);
    const uint64_t guest = num == SYS_CLOCK_GETTIME ? syscall_arg[1] : syscall_arg[0];
    if (!guest) return;
    int64_t *out = (int64_t *)(uintptr_t)(guest + (uint64_t)g.guest_base);
    out[0] = (int64_t)(VIRTUAL_EPOCH_S + ns / 1000000000ull);
    out[1] = (int64_t)(num == SYS_CLOCK_GETTIME ? ns % 1000000000ull : (ns % 1000000000ull) / 1000);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    if (!g.have_base && n) {
        struct qemu_plugin_insn *first = qemu_plugin_tb_get_insn(tb, 0);
        g.guest_base = (intptr_t)qemu_plugin_insn_haddr(first) - (intptr_t)qemu_plugin_insn_vaddr(first);
        g.have_base = 1;
    }
    uint8_t buf[4096];
    uint32_t n_bytes = 0;
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const size_t sz = qemu_plugin_insn_size(insn);
        if (n_bytes + sz <= sizeof buf) memcpy(buf + n_bytes, qemu_plugin_insn_data(insn), sz);
        n_bytes += (uint32_t)sz;
        const uint64_t va = qemu_plugin_insn_vaddr(insn);
        /* MEM_RW: with MEM_R alone qemu 7.2 never calls back (checked); on_marker_load filters by address */
        if (g.nslots && va >= g.marker && va < g.marker_end)
            qemu_plugin_register_vcpu_mem_cb(insn, on_marker_load, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
    }
    if (n_bytes > sizeof buf) n_bytes = 0; /* never for aarch64 (TBs stop at 512 insns); keep the count */
    pthread_mutex_lock(&g.mu);
    Block *b = block_for(qemu_plugin_tb_vaddr(tb), (uint32_t)n, buf, n_bytes);
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < g.n_enter; ++i)
        if (g.enter_pc[i] == qemu_plugin_tb_vaddr(tb))
            qemu_plugin_register_vcpu_tb_exec_cb(tb, on_enter, QEMU_PLUGIN_CB_NO_REGS,
                                                 (void *)(uintptr_t)g.enter_stage[i]);
    if (g.atomic) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec_atomic, QEMU_PLUGIN_CB_NO_REGS, b);
    } else {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->execs, 1);
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &g.total, n);
    }
}

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int vcpu) {
    (void)id;
    pthread_mutex_lock(&g.mu);
    if (vcpu + 1 > g.vcpus) g.vcpus = vcpu + 1;
    pthread_mutex_unlock(&g.mu);
}

static int write_dump(FILE *f) {
    uint64_t stage_insns[MAX_STAGES] = {0};
    for (size_t i = 0; i < g.n_all; ++i)
        for (uint32_t s = 0; s < g.all[i]->n_stages; ++s)
            stage_insns[g.all[i]->stages[s].stage] += g.all[i]->stages[s].execs * g.all[i]->n_insns;
    fprintf(f, "edgevlm-qemu-cost 1\ntotal %" PRIu64 "\nvcpus %u\n", g.total, g.vcpus);
    for (int s = 0; s < MAX_STAGES; ++s)
        if (stage_insns[s] || g.entries[s])
            fprintf(f, "stage %d %" PRIu64 " %" PRIu64 "\n", s, stage_insns[s], g.entries[s]);
    for (size_t i = 0; i < g.n_all; ++i) {
        const Block *b = g.all[i];
        if (!b->n_stages) continue;
        fprintf(f, "block %" PRIx64 " %u ", b->pc, b->n_insns);
        for (uint32_t k = 0; k < b->n_bytes; ++k) fprintf(f, "%02x", b->bytes[k]);
        if (!b->n_bytes) fputc('-', f);
        for (uint32_t s = 0; s < b->n_stages; ++s)
            fprintf(f, "%c%u:%" PRIu64, s ? ',' : ' ', b->stages[s].stage, b->stages[s].execs);
        fputc('\n', f);
    }
    return fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
}

static void on_exit_(qemu_plugin_id_t id, void *udata) {
    (void)id, (void)udata;
    pthread_mutex_lock(&g.mu);
    book_all();
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", g.out, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && write_dump(f) == 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, g.out) != 0) {
        fprintf(stderr, "edgevlm-qemu-cost: cannot write %s: %s\n", g.out, strerror(errno));
        unlink(tmp);
    }
    pthread_mutex_unlock(&g.mu);
}

static int parse_u64(const char *v, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    *out = strtoull(v, &end, 0);
    return errno == 0 && end && *end == '\0' && end != v;
}

/* "ADDR:STAGE" */
static int parse_enter(const char *v) {
    char addr[64];
    const char *colon = strchr(v, ':');
    uint64_t pc, stage;
    if (!colon || (size_t)(colon - v) >= sizeof addr || g.n_enter == MAX_STAGES) return 0;
    memcpy(addr, v, (size_t)(colon - v));
    addr[colon - v] = '\0';
    if (!parse_u64(addr, &pc) || !parse_u64(colon + 1, &stage) || stage >= MAX_STAGES) return 0;
    g.enter_pc[g.n_enter] = pc;
    g.enter_stage[g.n_enter++] = (uint32_t)stage;
    return 1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; ++i) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "edgevlm-qemu-cost: argument '%s' is not KEY=VALUE\n", argv[i]);
            return -1;
        }
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        int ok = 1;
        if (strcmp(k, "out") == 0) g.out = strdup(v);
        else if (strcmp(k, "marker") == 0) ok = parse_u64(v, &g.marker);
        else if (strcmp(k, "marker_end") == 0) ok = parse_u64(v, &g.marker_end);
        else if (strcmp(k, "slots") == 0) ok = parse_u64(v, &g.slots);
        else if (strcmp(k, "nslots") == 0) ok = parse_u64(v, &g.nslots) && g.nslots <= MAX_STAGES;
        else if (strcmp(k, "enter") == 0) ok = parse_enter(v);
        else if (strcmp(k, "clock") == 0 && strcmp(v, "virtual") == 0) g.host_clock = 0;
        else if (strcmp(k, "clock") == 0 && strcmp(v, "host") == 0) g.host_clock = 1;
        else if (strcmp(k, "mode") == 0 && strcmp(v, "inline") == 0) g.atomic = 0;
        else if (strcmp(k, "mode") == 0 && strcmp(v, "atomic") == 0) g.atomic = 1;
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "edgevlm-qemu-cost: bad argument %s=%s (keys: out, marker, marker_end, slots, "
                            "nslots <= %d, enter=ADDR:STAGE, mode=inline|atomic, clock=virtual|host)\n", k, v, MAX_STAGES);
            return -1;
        }
    }
    if (!g.out) {
        fprintf(stderr, "edgevlm-qemu-cost: out=FILE is required\n");
        return -1;
    }
    if (g.nslots && (!g.slots || g.marker_end <= g.marker)) {
        fprintf(stderr, "edgevlm-qemu-cost: nslots needs slots, marker and marker_end > marker\n");
        return -1;
    }
    qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
    if (!g.host_clock) {
        qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
        qemu_plugin_register_vcpu_syscall_ret_cb(id, on_syscall_ret);
    }
    return 0;
}
