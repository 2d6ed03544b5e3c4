/*
 * gort/_accel.c: the C twin of gort's hot paths (issue #11).
 *
 * The pure-Python modules are the reference and the fallback: every type and
 * function here has a Python twin with the same name, the same structure and
 * the same behaviour, and the Python modules pick this module's version at
 * import time unless GORT_PUREPY=1 (gort/accel.py).  Read the Python twin
 * first; the C follows it step by step, with Go's data structures where
 * Python could not have them (the run queue is Go's lock-free ring).  What is
 * not here stays Python and is called back (configure()): find_runnable's
 * slow path, stealing, M start/stop/wake/hand-off, sysmon, syscalls,
 * procresize, select, sync, context, net, tracing.
 *
 *   C here                     Go (runtime/)                      Python twin
 *   -------------------------  ---------------------------------  ------------------------------
 *   G (type)                   runtime2.go type g                 g.G
 *   P (type), its ring         runtime2.go type p: runq,          p.P (a deque: Python has no CAS)
 *                              runqhead, runqtail, runnext
 *   runqput, runqputslow_c     proc.go runqput, runqputslow       p.runqput, p.runqputslow
 *   runqget                    proc.go runqget                    p.runqget
 *   runqgrab, runqsteal        proc.go runqgrab, runqsteal        p.runqgrab, p.runqsteal
 *   runqdrain                  proc.go runqdrain                  p.runqdrain
 *   runqlist, runnextg         (dumps and tests)                  p.runqlist, p.runnextg
 *   MCore (type)               runtime2.go type m (hot fields)    m.MCore (m.M adds the rest)
 *   SchedCore (type):          runtime2.go type schedt (hot       sched.SchedCore (sched.Sched
 *     globrunqput*, globrunqget  fields); proc.go globrunqget      adds the rest)
 *   GQueue (type)              schedt.runq (gQueue)               collections.deque
 *   set_m                      getg().m                           proc._tls.m (proc.mstart sets both)
 *   schedule                   proc.go schedule, findRunnable's   proc.schedule
 *                              fast path, execute
 *   goexit0_c, gfput_c         proc.go goexit0, gfput             proc.goexit0, proc.gfput
 *   ready                      proc.go ready (goready)            proc.ready
 *   newproc, go                proc.go newproc, newproc1          proc.newproc, proc.go
 *   runqput_or_spill           runqput + runqputslow's batch      proc.runqput_or_spill
 *   gosched (YieldOp)          proc.go Gosched                    proc.gosched
 *   preempt_point (YieldOp)    the stackguard0 preemption check   proc.preempt_point
 *   park_forever (YieldOp)     gopark(nil, ...) forever           proc.park_forever
 *   Chan (type)                chan.go hchan                      chan.Chan
 *   Sudog, SelSudog (types)    runtime2.go sudog                  chan.Sudog, chan.SelSudog
 *   ChanOp (type): chansend,   chan.go chansend, chanrecv,        Chan.send, Chan.recv (generators)
 *     chanrecv, chan_parkcommit  chanparkcommit
 *   Chan.try_send/try_recv     selectnbsend, selectnbrecv         Chan.try_send, Chan.try_recv
 *   Chan.close                 chan.go closechan                  Chan.close
 *   waitq_enqueue/dequeue      chan.go waitq.enqueue/dequeue      Chan._enqueue_*, Chan._dequeue_*
 *   waitq_remove               select.go (dequeueSudoG)           Chan._remove
 *   TimersCore (type): push,   time.go timers: siftUp, siftDown,  timers.TimersCore (timers.Timers
 *     pop, popdue, wake_time     the due timers of run              adds the lock and running them)
 *   timers_check               findRunnable's timer check         timers.check_p's fast part
 *   sleep (SleepOp)            time.go timeSleep, resetForSleep   time.sleep (a generator)
 *   goroutine_ready            time.go goroutineReady             time._goroutine_ready
 *   SOURCE (constant)          -                                  accel._stale (a stale build)
 *
 * Concurrency (correct without the GIL, free-threaded CPython):
 * - The ring: only the owner P writes slots and stores runqtail (release);
 *   consumers (owner or thieves) load-acquire head and tail, read the slots and
 *   claim them with a CAS on runqhead, as Go.  runnext is a CAS slot.  The ring
 *   and runnext hold one strong reference per G; a successful CAS hands it to
 *   the consumer.
 * - Status words (G.status, G.preempt, P.status, P.preempt) are C11 atomics,
 *   exposed to Python through getters and setters; ready() CASes
 *   _Gwaiting -> _Grunnable.
 * - A channel has its own lock (PyMutex from 3.13; see chanlock_t for 3.11),
 *   held across a park until the M's chanparkcommit, as Go's hchan.lock.
 * - Other object fields belong to one thread at a time (gort's ownership rules,
 *   see proc.py's header).  A field another thread may replace at any time
 *   (a G's coroutine at shutdown, the tracer) is read inside the object's
 *   critical section (read_ref), as the member descriptors Python reads them
 *   through do.
 * - ftlock guards short C-only critical sections (no Python code, no GIL
 *   release inside): with the GIL those are atomic already, so it is a
 *   PyMutex in free-threaded builds only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <time.h>

#if PY_VERSION_HEX < 0x030B0000
#error "gort._accel needs CPython 3.11 or later"
#endif

#if PY_VERSION_HEX < 0x030C0000
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_T_PYSSIZET T_PYSSIZET
#define Py_T_LONGLONG T_LONGLONG
#define Py_T_DOUBLE T_DOUBLE
#define Py_T_BOOL T_BOOL
#define Py_T_INT T_INT
#define Py_READONLY READONLY
#endif

/* ================================================================ portability */

/* The exception being raised, as one object (PyErr_GetRaisedException before 3.12). */
static PyObject *
fetch_exc(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (t == NULL)
        return NULL;
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(v, tb);
        Py_DECREF(tb);
    }
    Py_DECREF(t);
    return v;
#endif
}

static void
restore_exc(PyObject *e)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(e);
#else
    if (e == NULL)
        return;
    PyErr_Restore(Py_NewRef(Py_TYPE(e)), e, PyException_GetTraceback(e));
#endif
}

/* ftlock: see the header.  A PyMutex without the GIL, nothing with it. */
#ifdef Py_GIL_DISABLED
typedef PyMutex ftlock_t;
#define FTLOCK(l) PyMutex_Lock(l)
#define FTUNLOCK(l) PyMutex_Unlock(l)
#else
typedef char ftlock_t;
#define FTLOCK(l) ((void)(l))
#define FTUNLOCK(l) ((void)(l))
#endif

/* The M of the calling thread (strong reference), set by proc.mstart through
   set_m: Go's getg().m.  C11 thread-local storage. */
static _Thread_local PyObject *tls_m = NULL;

/* ================================================================ configuration */

/* Python objects the C twins call back into (the slow paths stay Python).
   Set once, at import, by the Python modules (configure()). */
static struct {
    PyObject *YIELD;               /* proc.YIELD */
    PyObject *Trap;                /* proc.Trap */
    PyObject *ForeignAwait;        /* proc.ForeignAwait */
    PyObject *true_fn;             /* proc._true (park_forever's unlock callback) */
    PyObject *proc;                /* the proc module (proc.sched: the running program) */
    PyObject *preempt_flag;        /* g.preempt_flag, a one-item list set by sysmon */
    PyObject *monotonic;           /* time.monotonic */
    PyObject *flush_retired, *drop_abandoned, *reacquirep, *gcstopm, *stoplockedm;
    PyObject *check_timers, *find_runnable, *resetspinning, *startlockedm;
    PyObject *gopanic, *initiate_exit, *wakep, *globrunqput_wake, *globrunqput_locked;
    PyObject *runqspill, *gfput, *gfget, *newgoid, *goexit_locked, *nogo;
    PyObject *check_async, *as_coroutine;
    PyObject *ClosedChannelError;
    PyObject *RTimer, *goroutine_ready, *not_seconds;   /* time.py: timers.Timer, its function, the TypeError */
} cfg;

static const struct { const char *name; PyObject **slot; } cfg_names[] = {
    {"YIELD", &cfg.YIELD}, {"Trap", &cfg.Trap}, {"ForeignAwait", &cfg.ForeignAwait},
    {"true_fn", &cfg.true_fn}, {"proc", &cfg.proc}, {"preempt_flag", &cfg.preempt_flag},
    {"monotonic", &cfg.monotonic},
    {"flush_retired", &cfg.flush_retired}, {"drop_abandoned", &cfg.drop_abandoned},
    {"reacquirep", &cfg.reacquirep}, {"gcstopm", &cfg.gcstopm}, {"stoplockedm", &cfg.stoplockedm},
    {"check_timers", &cfg.check_timers}, {"find_runnable", &cfg.find_runnable},
    {"resetspinning", &cfg.resetspinning}, {"startlockedm", &cfg.startlockedm},
    {"gopanic", &cfg.gopanic}, {"initiate_exit", &cfg.initiate_exit}, {"wakep", &cfg.wakep},
    {"globrunqput_wake", &cfg.globrunqput_wake}, {"globrunqput_locked", &cfg.globrunqput_locked},
    {"runqspill", &cfg.runqspill}, {"gfput", &cfg.gfput}, {"gfget", &cfg.gfget},
    {"newgoid", &cfg.newgoid}, {"goexit_locked", &cfg.goexit_locked}, {"nogo", &cfg.nogo},
    {"check_async", &cfg.check_async}, {"as_coroutine", &cfg.as_coroutine},
    {"ClosedChannelError", &cfg.ClosedChannelError},
    {"RTimer", &cfg.RTimer}, {"goroutine_ready", &cfg.goroutine_ready}, {"not_seconds", &cfg.not_seconds},
    {NULL, NULL},
};

/* configure(**names): hand the C twins the Python objects they call back into. */
static PyObject *
configure(PyObject *mod, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "configure takes keyword arguments only");
        return NULL;
    }
    if (kwargs == NULL)
        Py_RETURN_NONE;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwargs, &pos, &key, &value)) {
        const char *k = PyUnicode_AsUTF8(key);
        if (k == NULL)
            return NULL;
        int found = 0;
        for (int i = 0; cfg_names[i].name != NULL; i++) {
            if (strcmp(cfg_names[i].name, k) == 0) {
                Py_XSETREF(*cfg_names[i].slot, Py_NewRef(value));
                found = 1;
                break;
            }
        }
        if (!found) {
            PyErr_Format(PyExc_TypeError, "configure: unknown name %R", key);
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* Calls into Python (vectorcall, no tuples). */
static PyObject *
call1(PyObject *f, PyObject *a)
{
    PyObject *args[1] = {a};
    return PyObject_Vectorcall(f, args, 1, NULL);
}

static PyObject *
call2(PyObject *f, PyObject *a, PyObject *b)
{
    PyObject *args[2] = {a, b};
    return PyObject_Vectorcall(f, args, 2, NULL);
}

static PyObject *
call3(PyObject *f, PyObject *a, PyObject *b, PyObject *c)
{
    PyObject *args[3] = {a, b, c};
    return PyObject_Vectorcall(f, args, 3, NULL);
}

/* Call f(args...) for its effect: 0, or -1 with the exception set. */
static int
void1(PyObject *f, PyObject *a)
{
    PyObject *r = call1(f, a);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
void2(PyObject *f, PyObject *a, PyObject *b)
{
    PyObject *r = call2(f, a, b);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
void3(PyObject *f, PyObject *a, PyObject *b, PyObject *c)
{
    PyObject *r = call3(f, a, b, c);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

#define IS_NONE(x) ((x) == NULL || (x) == Py_None)

/* Reading an object field another thread may replace at the same time (a
   Python store through a member descriptor, which holds the object's critical
   section): take the reference inside the same critical section, or the old
   value could be freed between our load and our incref.  With the GIL the
   load and the incref are atomic already. */
#ifdef Py_GIL_DISABLED
#define CS_BEGIN(o) Py_BEGIN_CRITICAL_SECTION(o)
#define CS_END() Py_END_CRITICAL_SECTION()
#else
#define CS_BEGIN(o) {
#define CS_END() }
#endif

static PyObject *
read_ref(PyObject *owner, PyObject **field)
{
    PyObject *v;
    CS_BEGIN(owner);
    v = Py_XNewRef(*field);
    CS_END();
    return v;
}

/* getattr(o, name, None) without raising AttributeError: 1 found, 0 not, -1 error. */
static int
lookup_attr(PyObject *o, PyObject *name, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(o, name, result);
#else
    return _PyObject_LookupAttr(o, name, result);
#endif
}

/* Interned strings, made at import. */
static PyObject *str_event, *str_trap, *str_acquire, *str_release, *str_empty;
static PyObject *str_GoStart, *str_GoStop, *str_GoBlock, *str_GoUnblock, *str_GoDestroy;
static PyObject *str_GoCreate, *str_result, *str_qualname, *str_gocreate, *str_preempted, *str_Gosched;
static PyObject *str_chan_send, *str_chan_receive, *str_gort_sleep, *int_zero;

/* ================================================================ G */

/* G status values and P status values: Go's (runtime2.go), as in g.py / p.py. */
enum { Gidle = 0, Grunnable = 1, Grunning = 2, Gsyscall = 3, Gwaiting = 4, Gdead = 6 };
enum { Pidle = 0, Prunning = 1, Psyscall = 2, Pgcstop = 3, Pdead = 4 };

/* g.G: a goroutine.  Fields as the Python twin's. */
typedef struct {
    PyObject_HEAD
    long long goid;
    atomic_int status;            /* _Gidle ... _Gdead */
    atomic_int preempt;           /* preemption request (sysmon sets it) */
    double waitsince;             /* time.monotonic() when it parked */
    PyObject *coro;
    PyObject *waitreason;
    PyObject *param;              /* set by wakers (the completed sudog for channels) */
    PyObject *lockedm;            /* LockOSThread wiring */
    PyObject *waiting;            /* sudogs of a blocked select */
    PyObject *selectdone;         /* a threading.Lock: acquire(False) is Go's selectDone CAS */
    PyObject *timer;              /* cached runtime timer for sleep */
    PyObject *sg;                 /* cached sudog (the Python channels' sudog cache) */
    /* where it was created (Go's gopc, parentGoid), set by newproc: the code
       object and byte offset of the `gort.go` call, read only by dumps */
    PyObject *gopc;
    long long gopcpc;
    long long parentgoid;
    PyObject *parent;             /* the creating G; its goid tells whether it was reused since */
} GObject;

static PyTypeObject GType;

static PyObject *
G_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if ((args != NULL && PyTuple_GET_SIZE(args) != 0) || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "G() takes no arguments");
        return NULL;
    }
    GObject *g = (GObject *)type->tp_alloc(type, 0);
    if (g == NULL)
        return NULL;
    g->goid = 0;
    atomic_init(&g->status, Gidle);
    atomic_init(&g->preempt, 0);
    g->waitsince = 0.0;
    g->coro = Py_NewRef(Py_None);
    g->waitreason = Py_NewRef(str_empty);
    g->param = Py_NewRef(Py_None);
    g->lockedm = Py_NewRef(Py_None);
    g->waiting = Py_NewRef(Py_None);
    g->selectdone = Py_NewRef(Py_None);
    g->timer = Py_NewRef(Py_None);
    g->sg = Py_NewRef(Py_None);
    g->gopc = Py_NewRef(Py_None);
    g->gopcpc = -1;
    g->parentgoid = 0;
    g->parent = Py_NewRef(Py_None);
    return (PyObject *)g;
}

static int
G_traverse(GObject *g, visitproc visit, void *arg)
{
    Py_VISIT(g->coro);
    Py_VISIT(g->waitreason);
    Py_VISIT(g->param);
    Py_VISIT(g->lockedm);
    Py_VISIT(g->waiting);
    Py_VISIT(g->selectdone);
    Py_VISIT(g->timer);
    Py_VISIT(g->sg);
    Py_VISIT(g->gopc);
    Py_VISIT(g->parent);
    return 0;
}

static int
G_clear(GObject *g)
{
    Py_CLEAR(g->coro);
    Py_CLEAR(g->waitreason);
    Py_CLEAR(g->param);
    Py_CLEAR(g->lockedm);
    Py_CLEAR(g->waiting);
    Py_CLEAR(g->selectdone);
    Py_CLEAR(g->timer);
    Py_CLEAR(g->sg);
    Py_CLEAR(g->gopc);
    Py_CLEAR(g->parent);
    return 0;
}

static void
G_dealloc(GObject *g)
{
    PyObject_GC_UnTrack(g);
    G_clear(g);
    Py_TYPE(g)->tp_free((PyObject *)g);
}

/* An int attribute backed by an atomic: the getter and setter. */
static PyObject *
get_atomic_int(atomic_int *p)
{
    return PyLong_FromLong(atomic_load_explicit(p, memory_order_acquire));
}

static int
set_atomic_int(atomic_int *p, PyObject *v, const char *name)
{
    if (v == NULL) {
        PyErr_Format(PyExc_AttributeError, "cannot delete %s", name);
        return -1;
    }
    long x = PyLong_AsLong(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    atomic_store_explicit(p, (int)x, memory_order_release);
    return 0;
}

static PyObject *
get_atomic_bool(atomic_int *p)
{
    return PyBool_FromLong(atomic_load_explicit(p, memory_order_acquire));
}

static int
set_atomic_bool(atomic_int *p, PyObject *v, const char *name)
{
    if (v == NULL) {
        PyErr_Format(PyExc_AttributeError, "cannot delete %s", name);
        return -1;
    }
    int x = PyObject_IsTrue(v);
    if (x < 0)
        return -1;
    atomic_store_explicit(p, x, memory_order_release);
    return 0;
}

static PyObject *G_get_status(GObject *g, void *c) { return get_atomic_int(&g->status); }
static int G_set_status(GObject *g, PyObject *v, void *c) { return set_atomic_int(&g->status, v, "status"); }
static PyObject *G_get_preempt(GObject *g, void *c) { return get_atomic_bool(&g->preempt); }
static int G_set_preempt(GObject *g, PyObject *v, void *c) { return set_atomic_bool(&g->preempt, v, "preempt"); }

/* G.fn: the coroutine's __qualname__ (g.G.fn). */
static PyObject *
G_get_fn(GObject *g, void *c)
{
    PyObject *coro = Py_XNewRef(g->coro);
    PyObject *name = NULL;
    if (coro != NULL && lookup_attr(coro, str_qualname, &name) < 0)
        PyErr_Clear();
    Py_XDECREF(coro);
    return name != NULL ? name : PyUnicode_FromString("?");
}

static const char *
gstatus_name(int st)
{
    switch (st) {
    case Gidle: return "idle";
    case Grunnable: return "runnable";
    case Grunning: return "running";
    case Gsyscall: return "syscall";
    case Gwaiting: return "waiting";
    case Gdead: return "dead";
    default: return NULL;
    }
}

static PyObject *
G_repr(GObject *g)
{
    int st = atomic_load(&g->status);
    const char *name = gstatus_name(st);
    PyObject *fn = G_get_fn(g, NULL);
    if (fn == NULL)
        return NULL;
    PyObject *wr = Py_XNewRef(g->waitreason);
    PyObject *r;
    char stbuf[16];
    if (name == NULL) {
        snprintf(stbuf, sizeof stbuf, "%d", st);
        name = stbuf;
    }
    if (st == Gwaiting && wr != NULL && PyObject_IsTrue(wr) > 0)
        r = PyUnicode_FromFormat("<G%lld %s (%S) %S>", g->goid, name, wr, fn);
    else
        r = PyUnicode_FromFormat("<G%lld %s %S>", g->goid, name, fn);
    Py_XDECREF(wr);
    Py_DECREF(fn);
    return r;
}

static PyMemberDef G_members[] = {
    {"goid", Py_T_LONGLONG, offsetof(GObject, goid), 0, NULL},
    {"coro", Py_T_OBJECT_EX, offsetof(GObject, coro), 0, NULL},
    {"waitreason", Py_T_OBJECT_EX, offsetof(GObject, waitreason), 0, NULL},
    {"waitsince", Py_T_DOUBLE, offsetof(GObject, waitsince), 0, NULL},
    {"param", Py_T_OBJECT_EX, offsetof(GObject, param), 0, NULL},
    {"lockedm", Py_T_OBJECT_EX, offsetof(GObject, lockedm), 0, NULL},
    {"waiting", Py_T_OBJECT_EX, offsetof(GObject, waiting), 0, NULL},
    {"selectdone", Py_T_OBJECT_EX, offsetof(GObject, selectdone), 0, NULL},
    {"timer", Py_T_OBJECT_EX, offsetof(GObject, timer), 0, NULL},
    {"sg", Py_T_OBJECT_EX, offsetof(GObject, sg), 0, NULL},
    {"gopc", Py_T_OBJECT_EX, offsetof(GObject, gopc), 0, NULL},
    {"gopcpc", Py_T_LONGLONG, offsetof(GObject, gopcpc), 0, NULL},
    {"parentgoid", Py_T_LONGLONG, offsetof(GObject, parentgoid), 0, NULL},
    {"parent", Py_T_OBJECT_EX, offsetof(GObject, parent), 0, NULL},
    {NULL},
};

static PyGetSetDef G_getset[] = {
    {"status", (getter)G_get_status, (setter)G_set_status, NULL, NULL},
    {"preempt", (getter)G_get_preempt, (setter)G_set_preempt, NULL, NULL},
    {"fn", (getter)G_get_fn, NULL, NULL, NULL},
    {NULL},
};

static PyTypeObject GType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.g.G",
    .tp_doc = "A goroutine (Go's g): the C twin of gort.g.G.",
    .tp_basicsize = sizeof(GObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = G_new,
    .tp_dealloc = (destructor)G_dealloc,
    .tp_traverse = (traverseproc)G_traverse,
    .tp_clear = (inquiry)G_clear,
    .tp_repr = (reprfunc)G_repr,
    .tp_members = G_members,
    .tp_getset = G_getset,
};

#define AS_G(o) ((GObject *)(o))

static int
check_g(PyObject *o)
{
    if (!Py_IS_TYPE(o, &GType)) {
        PyErr_Format(PyExc_TypeError, "expected a gort G, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

/* ================================================================ P and its run queue */

#define RUNQ_SIZE 256             /* len(p.runq) in Go */

/* p.P: a logical processor.  runq is Go's ring: the owner stores slots and
   publishes them with a store-release of runqtail; consumers claim them with
   a CAS on runqhead.  runnext is a CAS slot. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t id;
    atomic_int status;
    atomic_int preempt;           /* the time slice ran out (sysmon) */
    Py_ssize_t schedtick;         /* bumped by execute on each new time slice */
    Py_ssize_t syscalltick;
    Py_ssize_t nstolen;
    long long goidcache, goidcacheend;
    PyObject *m;
    PyObject *sysmontick;         /* [schedtick, schedwhen, syscalltick, syscallwhen] as sysmon saw them */
    PyObject *gfree;              /* list of dead Gs */
    PyObject *timers;             /* timers.Timers */
    PyObject *busysample;
    _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    _Atomic(PyObject *) runnext;
    _Atomic(PyObject *) runq[RUNQ_SIZE];
} PObject;

static PyTypeObject PType;
#define AS_P(o) ((PObject *)(o))

static PyObject *
P_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"pid", NULL};
    Py_ssize_t pid;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n:P", kwlist, &pid))
        return NULL;
    PyObject *now = PyObject_CallNoArgs(cfg.monotonic);
    if (now == NULL)
        return NULL;
    PObject *pp = (PObject *)type->tp_alloc(type, 0);
    if (pp == NULL) {
        Py_DECREF(now);
        return NULL;
    }
    pp->id = pid;
    atomic_init(&pp->status, Pgcstop);     /* p.init leaves a new P stopped */
    atomic_init(&pp->preempt, 0);
    pp->m = Py_NewRef(Py_None);
    pp->sysmontick = Py_BuildValue("[iOiO]", 0, now, 0, now);
    Py_DECREF(now);
    pp->gfree = PyList_New(0);
    pp->timers = Py_NewRef(Py_None);
    pp->busysample = Py_NewRef(Py_None);
    atomic_init(&pp->runqhead, 0);
    atomic_init(&pp->runqtail, 0);
    atomic_init(&pp->runnext, NULL);
    for (int i = 0; i < RUNQ_SIZE; i++)
        atomic_init(&pp->runq[i], NULL);
    if (pp->sysmontick == NULL || pp->gfree == NULL) {
        Py_DECREF(pp);
        return NULL;
    }
    return (PyObject *)pp;
}

static int
P_traverse(PObject *pp, visitproc visit, void *arg)
{
    Py_VISIT(pp->m);
    Py_VISIT(pp->sysmontick);
    Py_VISIT(pp->gfree);
    Py_VISIT(pp->timers);
    Py_VISIT(pp->busysample);
    PyObject *next = atomic_load(&pp->runnext);
    Py_VISIT(next);
    uint32_t h = atomic_load(&pp->runqhead), t = atomic_load(&pp->runqtail);
    for (uint32_t i = h; i != t && i - h <= RUNQ_SIZE; i++) {
        PyObject *gp = atomic_load(&pp->runq[i % RUNQ_SIZE]);
        Py_VISIT(gp);
    }
    return 0;
}

/* Take every G off the queue (owner, or a P nobody runs): runqdrain. */
static PyObject *runqget_c(PObject *pp, int *inherit);

static int
P_clear(PObject *pp)
{
    Py_CLEAR(pp->m);
    Py_CLEAR(pp->sysmontick);
    Py_CLEAR(pp->gfree);
    Py_CLEAR(pp->timers);
    Py_CLEAR(pp->busysample);
    int inherit;
    PyObject *gp;
    while ((gp = runqget_c(pp, &inherit)) != NULL)
        Py_DECREF(gp);
    return 0;
}

static void
P_dealloc(PObject *pp)
{
    PyObject_GC_UnTrack(pp);
    P_clear(pp);
    Py_TYPE(pp)->tp_free((PyObject *)pp);
}

static PyObject *P_get_status(PObject *pp, void *c) { return get_atomic_int(&pp->status); }
static int P_set_status(PObject *pp, PyObject *v, void *c) { return set_atomic_int(&pp->status, v, "status"); }
static PyObject *P_get_preempt(PObject *pp, void *c) { return get_atomic_bool(&pp->preempt); }
static int P_set_preempt(PObject *pp, PyObject *v, void *c) { return set_atomic_bool(&pp->preempt, v, "preempt"); }

/* Go's runqsize: the queue's length plus runnext (a consistent snapshot of head and tail). */
static Py_ssize_t
runqsize_c(PObject *pp)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        PyObject *next = atomic_load_explicit(&pp->runnext, memory_order_acquire);
        if (h == atomic_load_explicit(&pp->runqhead, memory_order_acquire))
            return (Py_ssize_t)(t - h) + (next != NULL);
    }
}

/* Go's runqempty: re-reads tail so that a runnext kicked into the queue
   meanwhile is not missed. */
static int
runqempty_c(PObject *pp)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        PyObject *next = atomic_load_explicit(&pp->runnext, memory_order_acquire);
        if (t == atomic_load_explicit(&pp->runqtail, memory_order_acquire))
            return h == t && next == NULL;
    }
}

static PyObject *
P_runqsize(PObject *pp, PyObject *unused)
{
    return PyLong_FromSsize_t(runqsize_c(pp));
}

static PyObject *
P_runqempty(PObject *pp, PyObject *unused)
{
    return PyBool_FromLong(runqempty_c(pp));
}

static const char *
pstatus_name(int st)
{
    switch (st) {
    case Pidle: return "idle";
    case Prunning: return "running";
    case Psyscall: return "syscall";
    case Pgcstop: return "gcstop";
    case Pdead: return "dead";
    default: return "None";
    }
}

static PyObject *
P_repr(PObject *pp)
{
    uint32_t h = atomic_load(&pp->runqhead), t = atomic_load(&pp->runqtail);
    return PyUnicode_FromFormat("<P%zd %s runq=%u runnext=%d schedtick=%zd>", pp->id,
                                pstatus_name(atomic_load(&pp->status)), (unsigned)(t - h),
                                atomic_load(&pp->runnext) != NULL, pp->schedtick);
}

static PyMemberDef P_members[] = {
    {"id", Py_T_PYSSIZET, offsetof(PObject, id), 0, NULL},
    {"m", Py_T_OBJECT_EX, offsetof(PObject, m), 0, NULL},
    {"schedtick", Py_T_PYSSIZET, offsetof(PObject, schedtick), 0, NULL},
    {"syscalltick", Py_T_PYSSIZET, offsetof(PObject, syscalltick), 0, NULL},
    {"sysmontick", Py_T_OBJECT_EX, offsetof(PObject, sysmontick), 0, NULL},
    {"gfree", Py_T_OBJECT_EX, offsetof(PObject, gfree), 0, NULL},
    {"goidcache", Py_T_LONGLONG, offsetof(PObject, goidcache), 0, NULL},
    {"goidcacheend", Py_T_LONGLONG, offsetof(PObject, goidcacheend), 0, NULL},
    {"timers", Py_T_OBJECT_EX, offsetof(PObject, timers), 0, NULL},
    {"nstolen", Py_T_PYSSIZET, offsetof(PObject, nstolen), 0, NULL},
    {"busysample", Py_T_OBJECT_EX, offsetof(PObject, busysample), 0, NULL},
    {NULL},
};

static PyGetSetDef P_getset[] = {
    {"status", (getter)P_get_status, (setter)P_set_status, NULL, NULL},
    {"preempt", (getter)P_get_preempt, (setter)P_set_preempt, NULL, NULL},
    {NULL},
};

static PyMethodDef P_methods[] = {
    {"runqsize", (PyCFunction)P_runqsize, METH_NOARGS, "Gs queued on this P, runnext included."},
    {"runqempty", (PyCFunction)P_runqempty, METH_NOARGS, "No G queued on this P (runnext included)."},
    {NULL},
};

static PyTypeObject PType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.p.P",
    .tp_doc = "A logical processor (Go's p) with Go's 256-slot run queue ring: the C twin of gort.p.P.",
    .tp_basicsize = sizeof(PObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = P_new,
    .tp_dealloc = (destructor)P_dealloc,
    .tp_traverse = (traverseproc)P_traverse,
    .tp_clear = (inquiry)P_clear,
    .tp_repr = (reprfunc)P_repr,
    .tp_members = P_members,
    .tp_getset = P_getset,
    .tp_methods = P_methods,
};

static int
check_p(PyObject *o)
{
    if (!Py_IS_TYPE(o, &PType)) {
        PyErr_Format(PyExc_TypeError, "expected a gort P, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

/* runqputslow (owner): move half the ring plus gp into a new list, the batch
   for the global queue.  Returns the list, or NULL with *retry set when a
   consumer moved runqhead meanwhile (then the fast path is tried again), or
   NULL with an exception. */
static PyObject *
runqputslow_c(PObject *pp, PyObject *gp, uint32_t h, uint32_t t, int *retry)
{
    uint32_t n = (t - h) / 2;
    *retry = 0;
    if (n != RUNQ_SIZE / 2) {
        PyErr_SetString(PyExc_RuntimeError, "runqputslow: queue is not full");
        return NULL;
    }
    PyObject *batch = PyList_New(n + 1);      /* before the CAS: it must not fail after */
    if (batch == NULL)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        PyList_SET_ITEM(batch, i, atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE],
                                                        memory_order_relaxed));
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
                                                 memory_order_acq_rel, memory_order_relaxed)) {
        for (uint32_t i = 0; i < n; i++)
            PyList_SET_ITEM(batch, i, NULL);  /* not ours: a consumer took some */
        Py_DECREF(batch);
        *retry = 1;
        return NULL;
    }
    PyList_SET_ITEM(batch, n, gp);            /* the references move into the batch */
    return batch;
}

/* runqput (owner only): gp (a reference the queue takes over) goes to runnext
   when next, kicking the old runnext to the tail, else to the tail.  Returns
   0; or 1 with *batch, the overflow (half the ring + 1, references included)
   that the caller hands to the global queue; or -1 with an exception (gp's
   reference is then released). */
static int
runqput_c(PObject *pp, PyObject *gp, int next, PyObject **batch)
{
    *batch = NULL;
    if (next) {
        PyObject *old = atomic_exchange_explicit(&pp->runnext, gp, memory_order_acq_rel);
        if (old == NULL)
            return 0;
        gp = old;                                 /* kick the old runnext to the tail */
    }
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[t % RUNQ_SIZE], gp, memory_order_relaxed);
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return 0;
        }
        int retry;
        *batch = runqputslow_c(pp, gp, h, t, &retry);
        if (*batch != NULL)
            return 1;
        if (!retry) {
            Py_DECREF(gp);
            return -1;
        }
    }
}

/* runqget: runnext first (the G inherits the time slice), then the ring's
   head.  Returns a new reference (the queue's), or NULL when empty. */
static PyObject *
runqget_c(PObject *pp, int *inherit)
{
    PyObject *next = atomic_load_explicit(&pp->runnext, memory_order_acquire);
    if (next != NULL && atomic_compare_exchange_strong_explicit(
            &pp->runnext, &next, NULL, memory_order_acq_rel, memory_order_relaxed)) {
        *inherit = 1;
        return next;
    }
    *inherit = 0;
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        if (t == h)
            return NULL;
        PyObject *gp = atomic_load_explicit(&pp->runq[h % RUNQ_SIZE], memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + 1,
                                                    memory_order_acq_rel, memory_order_relaxed))
            return gp;
    }
}

/* runqgrab: take half (rounded up) of pp's ring into batch; its runnext only
   when allowed and the ring is empty.  Returns how many (references moved). */
static int
runqgrab_c(PObject *pp, PyObject **batch, int steal_runnext)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!steal_runnext || atomic_load(&pp->runnext) == NULL)
                return 0;
            if (atomic_load(&pp->status) == Prunning) {
                /* Go sleeps 3 us so the victim can run the G it just readied;
                   yield the CPU instead, as the Python twin (os.sched_yield) */
                Py_BEGIN_ALLOW_THREADS
                sched_yield();
                Py_END_ALLOW_THREADS
            }
            PyObject *next = atomic_load_explicit(&pp->runnext, memory_order_acquire);
            if (next == NULL || !atomic_compare_exchange_strong_explicit(
                    &pp->runnext, &next, NULL, memory_order_acq_rel, memory_order_relaxed))
                return 0;                     /* the victim ran it meanwhile */
            batch[0] = next;
            return 1;
        }
        if (n > RUNQ_SIZE / 2)                /* read inconsistent head and tail */
            continue;
        for (uint32_t i = 0; i < n; i++)
            batch[i] = atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
                                                    memory_order_acq_rel, memory_order_relaxed))
            return (int)n;
    }
}

/* A G that found no room anywhere on its P goes to the global queue. */
static int gqueue_put_ref(PyObject *q, PyObject *gp, int head);

/* ================================================================ M and schedt cores */

/* m.MCore: the fields of Go's m that the scheduler's hot path reads; the
   Python subclass m.M adds the rest. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t id;
    PyObject *sched;              /* the program this M belongs to */
    PyObject *p;                  /* attached P */
    PyObject *curg;               /* G being run */
    PyObject *lockedg;
    char spinning;
    char exiting;
} MObject;

static PyTypeObject MCoreType;
#define AS_M(o) ((MObject *)(o))

static PyObject *
MCore_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    MObject *m = (MObject *)type->tp_alloc(type, 0);
    if (m == NULL)
        return NULL;
    m->sched = Py_NewRef(Py_None);
    m->p = Py_NewRef(Py_None);
    m->curg = Py_NewRef(Py_None);
    m->lockedg = Py_NewRef(Py_None);
    return (PyObject *)m;
}

static int
MCore_traverse(MObject *m, visitproc visit, void *arg)
{
    Py_VISIT(m->sched);
    Py_VISIT(m->p);
    Py_VISIT(m->curg);
    Py_VISIT(m->lockedg);
    return 0;
}

static int
MCore_clear(MObject *m)
{
    Py_CLEAR(m->sched);
    Py_CLEAR(m->p);
    Py_CLEAR(m->curg);
    Py_CLEAR(m->lockedg);
    return 0;
}

static void
MCore_dealloc(MObject *m)
{
    PyObject_GC_UnTrack(m);
    MCore_clear(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyMemberDef MCore_members[] = {
    {"id", Py_T_PYSSIZET, offsetof(MObject, id), 0, NULL},
    {"sched", Py_T_OBJECT_EX, offsetof(MObject, sched), 0, NULL},
    {"p", Py_T_OBJECT_EX, offsetof(MObject, p), 0, NULL},
    {"curg", Py_T_OBJECT_EX, offsetof(MObject, curg), 0, NULL},
    {"lockedg", Py_T_OBJECT_EX, offsetof(MObject, lockedg), 0, NULL},
    {"spinning", Py_T_BOOL, offsetof(MObject, spinning), 0, NULL},
    {"exiting", Py_T_BOOL, offsetof(MObject, exiting), 0, NULL},
    {NULL},
};

static PyTypeObject MCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.m.MCore",
    .tp_doc = "The scheduler's hot fields of an M (Go's m): the C twin of gort.m.MCore.",
    .tp_basicsize = sizeof(MObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_new = MCore_new,
    .tp_dealloc = (destructor)MCore_dealloc,
    .tp_traverse = (traverseproc)MCore_traverse,
    .tp_clear = (inquiry)MCore_clear,
    .tp_members = MCore_members,
};

/* sched.SchedCore: the fields of Go's schedt that the hot path reads without
   sched.lock (as hints, re-checked under the lock by the Python slow paths),
   and the global run queue's operations; the Python subclass sched.Sched adds
   the rest. */
typedef struct {
    PyObject_HEAD
    PyObject *runq;               /* the global run queue: a GQueue */
    PyObject *trace;              /* trace.Tracer or None (set by trace.start/stop) */
    atomic_int tracing;           /* trace is not None: the hot path's one check */
    PyObject *main_g;
    PyObject *allgs;              /* list of every G */
    Py_ssize_t npidle, nmspinning, gomaxprocs;
    double now;                   /* coarse clock, refreshed by sysmon */
    char stopflag, exiting, gcwaiting, global_only, main_started;
} SchedObject;

static PyTypeObject SchedCoreType;
#define AS_S(o) ((SchedObject *)(o))

static PyObject *
SchedCore_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    SchedObject *s = (SchedObject *)type->tp_alloc(type, 0);
    if (s == NULL)
        return NULL;
    s->runq = Py_NewRef(Py_None);
    s->trace = Py_NewRef(Py_None);
    s->main_g = Py_NewRef(Py_None);
    s->allgs = Py_NewRef(Py_None);
    return (PyObject *)s;
}

static int
SchedCore_traverse(SchedObject *s, visitproc visit, void *arg)
{
    Py_VISIT(s->runq);
    Py_VISIT(s->trace);
    Py_VISIT(s->main_g);
    Py_VISIT(s->allgs);
    return 0;
}

static int
SchedCore_clear(SchedObject *s)
{
    Py_CLEAR(s->runq);
    Py_CLEAR(s->trace);
    Py_CLEAR(s->main_g);
    Py_CLEAR(s->allgs);
    return 0;
}

static void
SchedCore_dealloc(SchedObject *s)
{
    PyObject_GC_UnTrack(s);
    SchedCore_clear(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* ================================================================ the global run queue */

/* GQueue: the global run queue (schedt.runq), a growable ring of Gs with the
   deque operations gort uses (append, appendleft, extend, popleft, len).  Each
   operation is one short critical section (ftlock).  Its length is readable
   without the lock, as a hint (Go reads sched.runqsize the same way). */
typedef struct {
    PyObject_HEAD
    ftlock_t mu;
    _Atomic Py_ssize_t n;
    Py_ssize_t head, cap;
    PyObject **items;
} GQueueObject;

static PyTypeObject GQueueType;
#define AS_Q(o) ((GQueueObject *)(o))

static PyObject *
GQueue_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "GQueue() takes no arguments");
        return NULL;
    }
    GQueueObject *q = (GQueueObject *)type->tp_alloc(type, 0);
    if (q == NULL)
        return NULL;
    atomic_init(&q->n, 0);
    q->cap = 64;
    q->items = PyMem_Calloc(q->cap, sizeof(PyObject *));
    if (q->items == NULL) {
        Py_DECREF(q);
        return PyErr_NoMemory();
    }
    return (PyObject *)q;
}

/* Room for k more (lock held; allocates, never runs Python code). */
static int
gqueue_reserve(GQueueObject *q, Py_ssize_t k)
{
    Py_ssize_t n = atomic_load_explicit(&q->n, memory_order_relaxed);
    if (n + k <= q->cap)
        return 0;
    Py_ssize_t cap = q->cap;
    while (cap < n + k)
        cap *= 2;
    PyObject **items = PyMem_Malloc(cap * sizeof(PyObject *));
    if (items == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        items[i] = q->items[(q->head + i) % q->cap];
    PyMem_Free(q->items);
    q->items = items;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* Put gp (a reference the queue takes) at the tail, or at the head. */
static int
gqueue_put_ref(PyObject *qo, PyObject *gp, int head)
{
    GQueueObject *q = AS_Q(qo);
    FTLOCK(&q->mu);
    if (gqueue_reserve(q, 1) < 0) {
        FTUNLOCK(&q->mu);
        Py_DECREF(gp);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t n = atomic_load_explicit(&q->n, memory_order_relaxed);
    if (head) {
        q->head = (q->head + q->cap - 1) % q->cap;
        q->items[q->head] = gp;
    }
    else
        q->items[(q->head + n) % q->cap] = gp;
    atomic_store_explicit(&q->n, n + 1, memory_order_release);
    FTUNLOCK(&q->mu);
    return 0;
}

/* Take the head: a new reference, or NULL when empty. */
static PyObject *
gqueue_get(PyObject *qo)
{
    GQueueObject *q = AS_Q(qo);
    if (atomic_load_explicit(&q->n, memory_order_acquire) == 0)
        return NULL;
    FTLOCK(&q->mu);
    Py_ssize_t n = atomic_load_explicit(&q->n, memory_order_relaxed);
    PyObject *gp = NULL;
    if (n > 0) {
        gp = q->items[q->head];
        q->items[q->head] = NULL;
        q->head = (q->head + 1) % q->cap;
        atomic_store_explicit(&q->n, n - 1, memory_order_release);
    }
    FTUNLOCK(&q->mu);
    return gp;
}

static inline Py_ssize_t
gqueue_len(PyObject *qo)
{
    return atomic_load_explicit(&AS_Q(qo)->n, memory_order_acquire);
}

/* A list of the queued Gs, head first (a snapshot). */
static PyObject *
gqueue_snapshot(GQueueObject *q)
{
    for (;;) {
        Py_ssize_t n = atomic_load(&q->n);
        PyObject *list = PyList_New(n);
        if (list == NULL)
            return NULL;
        FTLOCK(&q->mu);
        if (atomic_load(&q->n) != n) {            /* changed while we allocated */
            FTUNLOCK(&q->mu);
            Py_DECREF(list);
            continue;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            PyList_SET_ITEM(list, i, Py_NewRef(q->items[(q->head + i) % q->cap]));
        FTUNLOCK(&q->mu);
        return list;
    }
}

static int
GQueue_traverse(GQueueObject *q, visitproc visit, void *arg)
{
    Py_ssize_t n = atomic_load(&q->n);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_VISIT(q->items[(q->head + i) % q->cap]);
    return 0;
}

/* Remove everything; the references are released after the lock. */
static int
GQueue_clear(GQueueObject *q)
{
    PyObject *gp;
    while ((gp = gqueue_get((PyObject *)q)) != NULL)
        Py_DECREF(gp);
    return 0;
}

static void
GQueue_dealloc(GQueueObject *q)
{
    PyObject_GC_UnTrack(q);
    GQueue_clear(q);
    PyMem_Free(q->items);
    Py_TYPE(q)->tp_free((PyObject *)q);
}

static PyObject *
GQueue_append(PyObject *q, PyObject *gp)
{
    if (gqueue_put_ref(q, Py_NewRef(gp), 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
GQueue_appendleft(PyObject *q, PyObject *gp)
{
    if (gqueue_put_ref(q, Py_NewRef(gp), 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
GQueue_extend(PyObject *qo, PyObject *iterable)
{
    GQueueObject *q = AS_Q(qo);
    PyObject *seq = PySequence_Fast(iterable, "GQueue.extend needs an iterable");
    if (seq == NULL)
        return NULL;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
    PyObject **src = PySequence_Fast_ITEMS(seq);
    FTLOCK(&q->mu);
    if (gqueue_reserve(q, k) < 0) {
        FTUNLOCK(&q->mu);
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    Py_ssize_t n = atomic_load_explicit(&q->n, memory_order_relaxed);
    for (Py_ssize_t i = 0; i < k; i++)
        q->items[(q->head + n + i) % q->cap] = Py_NewRef(src[i]);
    atomic_store_explicit(&q->n, n + k, memory_order_release);
    FTUNLOCK(&q->mu);
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

static PyObject *
GQueue_popleft(PyObject *q, PyObject *unused)
{
    PyObject *gp = gqueue_get(q);
    if (gp == NULL)
        PyErr_SetString(PyExc_IndexError, "pop from an empty deque");
    return gp;
}

static PyObject *
GQueue_clear_meth(GQueueObject *q, PyObject *unused)
{
    GQueue_clear(q);
    Py_RETURN_NONE;
}

static Py_ssize_t
GQueue_len(PyObject *q)
{
    return gqueue_len(q);
}

static int
GQueue_contains(GQueueObject *q, PyObject *x)
{
    PyObject *list = gqueue_snapshot(q);
    if (list == NULL)
        return -1;
    int r = PySequence_Contains(list, x);
    Py_DECREF(list);
    return r;
}

static PyObject *
GQueue_iter(GQueueObject *q)
{
    PyObject *list = gqueue_snapshot(q);
    if (list == NULL)
        return NULL;
    PyObject *it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

static PyObject *
GQueue_repr(GQueueObject *q)
{
    PyObject *list = gqueue_snapshot(q);
    if (list == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("GQueue(%R)", list);
    Py_DECREF(list);
    return r;
}

static PyMethodDef GQueue_methods[] = {
    {"append", (PyCFunction)GQueue_append, METH_O, "Put a G at the tail."},
    {"appendleft", (PyCFunction)GQueue_appendleft, METH_O, "Put a G at the head."},
    {"extend", (PyCFunction)GQueue_extend, METH_O, "Put Gs at the tail, in order."},
    {"popleft", (PyCFunction)GQueue_popleft, METH_NOARGS, "Take the head (IndexError when empty)."},
    {"clear", (PyCFunction)GQueue_clear_meth, METH_NOARGS, "Remove every G."},
    {NULL},
};

static PySequenceMethods GQueue_as_sequence = {
    .sq_length = GQueue_len,
    .sq_contains = (objobjproc)GQueue_contains,
};

static PyTypeObject GQueueType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort._accel.GQueue",
    .tp_doc = "The global run queue (Go's sched.runq): the C twin of the deque sched.Sched uses.",
    .tp_basicsize = sizeof(GQueueObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = GQueue_new,
    .tp_dealloc = (destructor)GQueue_dealloc,
    .tp_traverse = (traverseproc)GQueue_traverse,
    .tp_clear = (inquiry)GQueue_clear,
    .tp_repr = (reprfunc)GQueue_repr,
    .tp_iter = (getiterfunc)GQueue_iter,
    .tp_as_sequence = &GQueue_as_sequence,
    .tp_methods = GQueue_methods,
};

static int
check_gqueue(PyObject *o)
{
    if (!Py_IS_TYPE(o, &GQueueType)) {
        PyErr_Format(PyExc_TypeError, "sched.runq must be a GQueue, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the run queue API (p.py) */

/* runqput(pp, gp, next) -> None, or the overflow batch for the global queue. */
static PyObject *
runqput(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "runqput(pp, gp, next)");
        return NULL;
    }
    if (check_p(args[0]) < 0 || check_g(args[1]) < 0)
        return NULL;
    int next = PyObject_IsTrue(args[2]);
    if (next < 0)
        return NULL;
    PyObject *batch;
    int r = runqput_c(AS_P(args[0]), Py_NewRef(args[1]), next, &batch);
    if (r < 0)
        return NULL;
    if (r == 0)
        Py_RETURN_NONE;
    return batch;
}

/* runqget(pp) -> (gp or None, inherit) */
static PyObject *
runqget(PyObject *mod, PyObject *pp)
{
    if (check_p(pp) < 0)
        return NULL;
    int inherit;
    PyObject *gp = runqget_c(AS_P(pp), &inherit);
    if (gp == NULL)
        return Py_BuildValue("(OO)", Py_None, Py_False);
    PyObject *r = PyTuple_Pack(2, gp, inherit ? Py_True : Py_False);
    Py_DECREF(gp);
    return r;
}

/* runqgrab(pp, steal_runnext) -> list of the Gs taken */
static PyObject *
runqgrab(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "runqgrab(pp, steal_runnext)");
        return NULL;
    }
    if (check_p(args[0]) < 0)
        return NULL;
    int srn = PyObject_IsTrue(args[1]);
    if (srn < 0)
        return NULL;
    PyObject *got = PyList_New(RUNQ_SIZE / 2);  /* before the grab: it must not fail after */
    if (got == NULL)
        return NULL;
    PyObject *batch[RUNQ_SIZE / 2];
    int n = runqgrab_c(AS_P(args[0]), batch, srn);
    for (int i = 0; i < n; i++)
        PyList_SET_ITEM(got, i, batch[i]);
    Py_SET_SIZE(got, n);
    return got;
}

/* runqsteal(pp, p2, steal_runnext) -> a G stolen from p2 to run, or None; the
   rest of what was taken goes to pp's own queue (Go grabs straight into it). */
static PyObject *
runqsteal(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "runqsteal(pp, p2, steal_runnext)");
        return NULL;
    }
    if (check_p(args[0]) < 0 || check_p(args[1]) < 0)
        return NULL;
    int srn = PyObject_IsTrue(args[2]);
    if (srn < 0)
        return NULL;
    PObject *pp = AS_P(args[0]);
    PyObject *batch[RUNQ_SIZE / 2];
    int n = runqgrab_c(AS_P(args[1]), batch, srn);
    if (n == 0)
        Py_RETURN_NONE;
    PyObject *gp = batch[--n];
    /* pp belongs to this (spinning) M and its queue is empty: the rest fits.
       Should it not, the overflow goes to the global queue, never lost. */
    int err = 0;
    for (int i = 0; i < n; i++) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[t % RUNQ_SIZE], batch[i], memory_order_relaxed);
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            continue;
        }
        PyObject *m = pp->m;              /* pp's M is the caller: its program's queue */
        if (!err && PyObject_TypeCheck(m, &MCoreType)
                && PyObject_TypeCheck(AS_M(m)->sched, &SchedCoreType)
                && Py_IS_TYPE(AS_S(AS_M(m)->sched)->runq, &GQueueType)) {
            if (gqueue_put_ref(AS_S(AS_M(m)->sched)->runq, batch[i], 0) < 0)
                err = 1;
        }
        else {
            Py_DECREF(batch[i]);
            err = 1;
        }
    }
    pp->nstolen += n + 1;
    if (err) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "runqsteal: runq overflow");
        Py_DECREF(gp);
        return NULL;
    }
    return gp;
}

/* runqdrain(pp) -> every G of pp, runnext first (the owner, or a stopped world). */
static PyObject *
runqdrain(PyObject *mod, PyObject *pp)
{
    if (check_p(pp) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    int inherit;
    PyObject *gp;
    while ((gp = runqget_c(AS_P(pp), &inherit)) != NULL) {
        int r = PyList_Append(list, gp);
        Py_DECREF(gp);
        if (r < 0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}

/* runqlist(pp) -> the Gs in pp's ring, head first, without taking them (a
   snapshot for dumps and tests; Gs stay alive in sched.allgs). */
static PyObject *
runqlist(PyObject *mod, PyObject *ppo)
{
    if (check_p(ppo) < 0)
        return NULL;
    PObject *pp = AS_P(ppo);
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        if (n > RUNQ_SIZE)
            continue;
        PyObject *items[RUNQ_SIZE];
        for (uint32_t i = 0; i < n; i++)
            items[i] = atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
        if (atomic_load_explicit(&pp->runqhead, memory_order_acquire) != h)
            continue;                         /* consumed meanwhile: read again */
        PyObject *list = PyList_New(n);
        if (list == NULL)
            return NULL;
        for (uint32_t i = 0; i < n; i++)
            PyList_SET_ITEM(list, i, Py_NewRef(items[i]));
        return list;
    }
}

/* runnextg(pp) -> pp's runnext G, or None (a snapshot). */
static PyObject *
runnextg(PyObject *mod, PyObject *pp)
{
    if (check_p(pp) < 0)
        return NULL;
    PyObject *gp = atomic_load_explicit(&AS_P(pp)->runnext, memory_order_acquire);
    return Py_NewRef(gp != NULL ? gp : Py_None);
}

/* ---------------------------------------------------------------- SchedCore: the global queue */

/* globrunqget: take a batch for pp: min(len/gomaxprocs+1, max, half the ring);
   return one to run (a new reference) and queue the rest on pp.  Safe with or
   without sched.lock: another taker may empty the queue meanwhile (NULL). */
static PyObject *
globrunqget_c(SchedObject *s, PObject *pp, Py_ssize_t max)
{
    PyObject *q = s->runq;
    Py_ssize_t n = gqueue_len(q);
    if (n == 0)
        return NULL;
    if (s->global_only)                   /* Go 1.0: no local queue to fill */
        max = 1;
    if (n > 1) {                          /* min(len, len/gomaxprocs + 1) */
        Py_ssize_t k = n / (s->gomaxprocs > 0 ? s->gomaxprocs : 1) + 1;
        if (k < n)
            n = k;
    }
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    PyObject *gp = gqueue_get(q);
    if (gp == NULL)
        return NULL;
    for (Py_ssize_t i = 1; i < n; i++) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h >= RUNQ_SIZE)
            break;
        PyObject *g2 = gqueue_get(q);
        if (g2 == NULL)
            break;
        atomic_store_explicit(&pp->runq[t % RUNQ_SIZE], g2, memory_order_relaxed);
        atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
    }
    return gp;
}

static PyObject *
SchedCore_globrunqput(SchedObject *s, PyObject *gp)
{
    if (check_gqueue(s->runq) < 0 || gqueue_put_ref(s->runq, Py_NewRef(gp), 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
SchedCore_globrunqputhead(SchedObject *s, PyObject *gp)
{
    if (check_gqueue(s->runq) < 0 || gqueue_put_ref(s->runq, Py_NewRef(gp), 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
SchedCore_globrunqputbatch(SchedObject *s, PyObject *batch)
{
    if (check_gqueue(s->runq) < 0)
        return NULL;
    return GQueue_extend(s->runq, batch);
}

static PyObject *
SchedCore_globrunqget(SchedObject *s, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "globrunqget(pp, max)");
        return NULL;
    }
    if (check_gqueue(s->runq) < 0 || check_p(args[0]) < 0)
        return NULL;
    Py_ssize_t max = PyLong_AsSsize_t(args[1]);
    if (max == -1 && PyErr_Occurred())
        return NULL;
    PyObject *gp = globrunqget_c(s, AS_P(args[0]), max);
    return gp != NULL ? gp : Py_NewRef(Py_None);
}

static PyMemberDef SchedCore_members[] = {
    {"runq", Py_T_OBJECT_EX, offsetof(SchedObject, runq), 0, NULL},
    {"main_g", Py_T_OBJECT_EX, offsetof(SchedObject, main_g), 0, NULL},
    {"allgs", Py_T_OBJECT_EX, offsetof(SchedObject, allgs), 0, NULL},
    {"npidle", Py_T_PYSSIZET, offsetof(SchedObject, npidle), 0, NULL},
    {"nmspinning", Py_T_PYSSIZET, offsetof(SchedObject, nmspinning), 0, NULL},
    {"gomaxprocs", Py_T_PYSSIZET, offsetof(SchedObject, gomaxprocs), 0, NULL},
    {"now", Py_T_DOUBLE, offsetof(SchedObject, now), 0, NULL},
    {"stopflag", Py_T_BOOL, offsetof(SchedObject, stopflag), 0, NULL},
    {"exiting", Py_T_BOOL, offsetof(SchedObject, exiting), 0, NULL},
    {"gcwaiting", Py_T_BOOL, offsetof(SchedObject, gcwaiting), 0, NULL},
    {"global_only", Py_T_BOOL, offsetof(SchedObject, global_only), 0, NULL},
    {"main_started", Py_T_BOOL, offsetof(SchedObject, main_started), 0, NULL},
    {NULL},
};

static PyObject *
SchedCore_get_trace(SchedObject *s, void *c)
{
    return read_ref((PyObject *)s, &s->trace);
}

static int
SchedCore_set_trace(SchedObject *s, PyObject *v, void *c)
{
    if (v == NULL)
        v = Py_None;
    PyObject *old;
    CS_BEGIN((PyObject *)s);
    old = s->trace;
    s->trace = Py_NewRef(v);
    atomic_store(&s->tracing, v != Py_None);
    CS_END();
    Py_XDECREF(old);
    return 0;
}

static PyGetSetDef SchedCore_getset[] = {
    {"trace", (getter)SchedCore_get_trace, (setter)SchedCore_set_trace, "trace.Tracer or None", NULL},
    {NULL},
};

static PyMethodDef SchedCore_methods[] = {
    {"globrunqput", (PyCFunction)SchedCore_globrunqput, METH_O, "Put gp at the global queue's tail."},
    {"globrunqputhead", (PyCFunction)SchedCore_globrunqputhead, METH_O, "Put gp at the global queue's head."},
    {"globrunqputbatch", (PyCFunction)SchedCore_globrunqputbatch, METH_O, "Put a batch at the tail."},
    {"globrunqget", (PyCFunction)(void (*)(void))SchedCore_globrunqget, METH_FASTCALL,
     "Take a batch for pp: min(len/gomaxprocs+1, max, 128); run one, queue the rest locally."},
    {NULL},
};

static PyTypeObject SchedCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.sched.SchedCore",
    .tp_doc = "The hot fields of a program's scheduler state (Go's schedt) and its global run queue: "
              "the C twin of gort.sched.SchedCore.",
    .tp_basicsize = sizeof(SchedObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_new = SchedCore_new,
    .tp_dealloc = (destructor)SchedCore_dealloc,
    .tp_traverse = (traverseproc)SchedCore_traverse,
    .tp_clear = (inquiry)SchedCore_clear,
    .tp_members = SchedCore_members,
    .tp_getset = SchedCore_getset,
    .tp_methods = SchedCore_methods,
};

/* ---------------------------------------------------------------- the current M */

/* set_m(m or None): the M the calling thread runs (proc.mstart / mexit). */
static PyObject *
set_m(PyObject *mod, PyObject *m)
{
    if (m != Py_None && !PyObject_TypeCheck(m, &MCoreType)) {
        PyErr_SetString(PyExc_TypeError, "set_m: an M or None");
        return NULL;
    }
    PyObject *old = tls_m;
    tls_m = m == Py_None ? NULL : Py_NewRef(m);
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

/* The calling thread's M (borrowed: the thread-local holds it), or NULL. */
static inline MObject *
current_m(void)
{
    return (MObject *)tls_m;
}

/* ================================================================ timers (timers.py) */

/* timers.TimersCore: one P's 4-ary min-heap of (when, gen, timer) entries,
   with `whens` mirroring the deadlines as floats (the sift compares those).
   The Python subclass timers.Timers adds the lock (mu, held by every caller
   of push/pop/popdue) and the running of due timers.  nheap is len(heap),
   readable without the lock: schedule's check. */
typedef struct {
    PyObject_HEAD
    PyObject *heap;
    PyObject *whens;
    _Atomic Py_ssize_t nheap;
    Py_ssize_t len;               /* live timers (what checkdead and handoffp look at) */
    Py_ssize_t zombies;           /* stopped timers still in the heap */
} TimersObject;

static PyTypeObject TimersCoreType;
#define AS_T(o) ((TimersObject *)(o))

static PyObject *
TimersCore_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    TimersObject *ts = (TimersObject *)type->tp_alloc(type, 0);
    if (ts == NULL)
        return NULL;
    ts->heap = PyList_New(0);
    ts->whens = PyList_New(0);
    atomic_init(&ts->nheap, 0);
    if (ts->heap == NULL || ts->whens == NULL) {
        Py_DECREF(ts);
        return NULL;
    }
    return (PyObject *)ts;
}

static int
TimersCore_init(TimersObject *ts, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "TimersCore() takes no arguments");
        return -1;
    }
    return 0;
}

static int
TimersCore_traverse(TimersObject *ts, visitproc visit, void *arg)
{
    Py_VISIT(ts->heap);
    Py_VISIT(ts->whens);
    return 0;
}

static int
TimersCore_clear(TimersObject *ts)
{
    Py_CLEAR(ts->heap);
    Py_CLEAR(ts->whens);
    return 0;
}

static void
TimersCore_dealloc(TimersObject *ts)
{
    PyObject_GC_UnTrack(ts);
    TimersCore_clear(ts);
    Py_TYPE(ts)->tp_free((PyObject *)ts);
}

static PyObject *TimersCore_get_heap(TimersObject *ts, void *c) { return read_ref((PyObject *)ts, &ts->heap); }
static PyObject *TimersCore_get_whens(TimersObject *ts, void *c) { return read_ref((PyObject *)ts, &ts->whens); }

/* heap and whens are replaced whole by clean() and move_timers (mu held) */
static int
timers_set_list(TimersObject *ts, PyObject **field, PyObject *v, int is_heap)
{
    if (v == NULL || !PyList_CheckExact(v)) {
        PyErr_SetString(PyExc_TypeError, "Timers.heap and Timers.whens are lists");
        return -1;
    }
    PyObject *old;
    CS_BEGIN((PyObject *)ts);
    old = *field;
    *field = Py_NewRef(v);
    if (is_heap)
        atomic_store(&ts->nheap, PyList_GET_SIZE(v));
    CS_END();
    Py_XDECREF(old);
    return 0;
}

static int TimersCore_set_heap(TimersObject *ts, PyObject *v, void *c) { return timers_set_list(ts, &ts->heap, v, 1); }
static int TimersCore_set_whens(TimersObject *ts, PyObject *v, void *c) { return timers_set_list(ts, &ts->whens, v, 0); }

static inline double
when_at(PyObject *whens, Py_ssize_t i)
{
    PyObject *w = PyList_GET_ITEM(whens, i);
    return PyFloat_CheckExact(w) ? PyFloat_AS_DOUBLE(w) : PyFloat_AsDouble(w);
}

static int
timers_lists(TimersObject *ts)
{
    if (!PyList_CheckExact(ts->heap) || !PyList_CheckExact(ts->whens)
            || PyList_GET_SIZE(ts->heap) != PyList_GET_SIZE(ts->whens)) {
        PyErr_SetString(PyExc_RuntimeError, "Timers: heap and whens out of step");
        return -1;
    }
    return 0;
}

/* push(e) (mu held): sift e = (when, gen, timer) up from the end. */
static int
timers_push(TimersObject *ts, PyObject *e)
{
    if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) < 1) {
        PyErr_SetString(PyExc_TypeError, "a timer heap entry is (when, gen, timer)");
        return -1;
    }
    if (timers_lists(ts) < 0)
        return -1;
    PyObject *h = ts->heap, *ws = ts->whens, *wo = PyTuple_GET_ITEM(e, 0);
    double w = PyFloat_AsDouble(wo);
    if (w == -1.0 && PyErr_Occurred())
        return -1;
    if (PyList_Append(h, e) < 0)
        return -1;
    if (PyList_Append(ws, wo) < 0) {
        PyList_SetSlice(h, PyList_GET_SIZE(h) - 1, PyList_GET_SIZE(h), NULL);
        return -1;
    }
    Py_ssize_t i = PyList_GET_SIZE(h) - 1;
    while (i > 0) {
        Py_ssize_t p = (i - 1) >> 2;             /* the parent in a 4-ary heap */
        if (w >= when_at(ws, p))
            break;
        PyList_SetItem(h, i, Py_NewRef(PyList_GET_ITEM(h, p)));
        PyList_SetItem(ws, i, Py_NewRef(PyList_GET_ITEM(ws, p)));
        i = p;
    }
    PyList_SetItem(h, i, Py_NewRef(e));
    PyList_SetItem(ws, i, Py_NewRef(wo));
    atomic_store(&ts->nheap, PyList_GET_SIZE(h));
    return 0;
}

/* pop() (mu held): take the earliest entry; the last one sifts down from the top. */
static PyObject *
timers_pop(TimersObject *ts)
{
    if (timers_lists(ts) < 0)
        return NULL;
    PyObject *h = ts->heap, *ws = ts->whens;
    Py_ssize_t n = PyList_GET_SIZE(h);
    if (n == 0) {
        PyErr_SetString(PyExc_IndexError, "pop from an empty timer heap");
        return NULL;
    }
    PyObject *top = Py_NewRef(PyList_GET_ITEM(h, 0));
    PyObject *last = Py_NewRef(PyList_GET_ITEM(h, n - 1));
    PyObject *lastw = Py_NewRef(PyList_GET_ITEM(ws, n - 1));
    double lw = when_at(ws, n - 1);
    if (PyList_SetSlice(h, n - 1, n, NULL) < 0 || PyList_SetSlice(ws, n - 1, n, NULL) < 0) {
        Py_DECREF(top);
        Py_DECREF(last);
        Py_DECREF(lastw);
        return NULL;
    }
    n--;
    if (n == 0) {
        Py_DECREF(last);
        Py_DECREF(lastw);
        atomic_store(&ts->nheap, 0);
        return top;
    }
    Py_ssize_t i = 0;
    for (;;) {
        Py_ssize_t c = (i << 2) + 1, best;    /* the first of up to four children */
        if (c >= n)
            break;
        best = c;
        double bw = when_at(ws, c);
        Py_ssize_t end = c + 4 < n ? c + 4 : n;
        for (Py_ssize_t j = c + 1; j < end; j++) {
            double x = when_at(ws, j);
            if (x < bw) {
                best = j;
                bw = x;
            }
        }
        if (bw >= lw)
            break;
        PyList_SetItem(h, i, Py_NewRef(PyList_GET_ITEM(h, best)));
        PyList_SetItem(ws, i, Py_NewRef(PyList_GET_ITEM(ws, best)));
        i = best;
    }
    PyList_SetItem(h, i, last);
    PyList_SetItem(ws, i, lastw);
    atomic_store(&ts->nheap, n);
    return top;
}

static PyObject *
TimersCore_push(TimersObject *ts, PyObject *e)
{
    if (timers_push(ts, e) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
TimersCore_pop(TimersObject *ts, PyObject *u)
{
    return timers_pop(ts);
}

/* popdue(now, max) (mu held): the entries due by now, earliest first, at most max. */
static PyObject *
TimersCore_popdue(TimersObject *ts, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "popdue(now, max)");
        return NULL;
    }
    double now = PyFloat_AsDouble(args[0]);
    Py_ssize_t max = PyLong_AsSsize_t(args[1]);
    if ((now == -1.0 || max == -1) && PyErr_Occurred())
        return NULL;
    if (timers_lists(ts) < 0)
        return NULL;
    PyObject *due = PyList_New(0);
    if (due == NULL)
        return NULL;
    while (PyList_GET_SIZE(due) < max && PyList_GET_SIZE(ts->whens) > 0 && when_at(ts->whens, 0) <= now) {
        PyObject *e = timers_pop(ts);
        if (e == NULL || PyList_Append(due, e) < 0) {
            Py_XDECREF(e);
            Py_DECREF(due);
            return NULL;
        }
        Py_DECREF(e);
    }
    return due;
}

/* The earliest deadline, 0.0 if none: without mu (a hint), as the Python twin. */
static double
timers_wake_time(TimersObject *ts)
{
    double w = 0.0;
    PyObject *ws = read_ref((PyObject *)ts, &ts->whens);
    if (ws == NULL)
        return 0.0;
    CS_BEGIN(ws);
    if (PyList_CheckExact(ws) && PyList_GET_SIZE(ws) > 0)
        w = when_at(ws, 0);
    CS_END();
    Py_DECREF(ws);
    if (w == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        w = 0.0;
    }
    return w;
}

static PyObject *
TimersCore_wake_time(TimersObject *ts, PyObject *u)
{
    return PyFloat_FromDouble(timers_wake_time(ts));
}

static PyMemberDef TimersCore_members[] = {
    {"len", Py_T_PYSSIZET, offsetof(TimersObject, len), 0, NULL},
    {"zombies", Py_T_PYSSIZET, offsetof(TimersObject, zombies), 0, NULL},
    {NULL},
};

static PyGetSetDef TimersCore_getset[] = {
    {"heap", (getter)TimersCore_get_heap, (setter)TimersCore_set_heap, "(when, gen, timer) entries", NULL},
    {"whens", (getter)TimersCore_get_whens, (setter)TimersCore_set_whens, "the entries' deadlines", NULL},
    {NULL},
};

static PyMethodDef TimersCore_methods[] = {
    {"push", (PyCFunction)TimersCore_push, METH_O, "push(e) (mu held): add an entry."},
    {"pop", (PyCFunction)TimersCore_pop, METH_NOARGS, "pop() (mu held): take the earliest entry."},
    {"popdue", (PyCFunction)(void (*)(void))TimersCore_popdue, METH_FASTCALL,
     "popdue(now, max) (mu held): the entries due by now, earliest first, at most max."},
    {"wake_time", (PyCFunction)TimersCore_wake_time, METH_NOARGS,
     "Earliest deadline, 0 if none; safe to call without the lock (a hint)."},
    {NULL},
};

static PyTypeObject TimersCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.timers.TimersCore",
    .tp_doc = "One P's 4-ary timer heap: the C twin of gort.timers.TimersCore.",
    .tp_basicsize = sizeof(TimersObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_new = TimersCore_new,
    .tp_init = (initproc)TimersCore_init,
    .tp_dealloc = (destructor)TimersCore_dealloc,
    .tp_traverse = (traverseproc)TimersCore_traverse,
    .tp_clear = (inquiry)TimersCore_clear,
    .tp_members = TimersCore_members,
    .tp_getset = TimersCore_getset,
    .tp_methods = TimersCore_methods,
};

static double
monotonic_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);       /* time.monotonic's clock */
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* schedule's look at pp's timers (timers.check_p's fast part): call check_p
   only when one is due or zombies need cleaning.  pp.timers is read
   borrowed: it is replaced only when sysmon retires the P, and the fresh P
   then holds the old heap, so the object stays alive. */
static int
timers_check(PyObject *mo, PObject *pp)
{
    PyObject *tso = pp->timers;
    if (!PyObject_TypeCheck(tso, &TimersCoreType)) {
        if (IS_NONE(tso))
            return 0;
        return void2(cfg.check_timers, mo, (PyObject *)pp);   /* not ours: the Python twin decides */
    }
    TimersObject *ts = AS_T(tso);
    Py_ssize_t n = atomic_load_explicit(&ts->nheap, memory_order_relaxed);
    if (n == 0)
        return 0;
    if (ts->zombies > n / 4)
        return void2(cfg.check_timers, mo, (PyObject *)pp);
    double w = timers_wake_time(ts);
    if (w == 0.0 || w > monotonic_now())
        return 0;
    return void2(cfg.check_timers, mo, (PyObject *)pp);
}


/* ================================================================ the scheduler (proc.py) */

#define FAIRNESS_TICK 61          /* schedtick % 61: look at the global queue first */
#define GFREE_MAX 64              /* gfput: spill when the local free list reaches 64 */

static int
check_m(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &MCoreType)) {
        PyErr_Format(PyExc_TypeError, "expected a gort M, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    if (!PyObject_TypeCheck(AS_M(o)->sched, &SchedCoreType)) {
        PyErr_SetString(PyExc_TypeError, "m.sched is not a gort Sched");
        return -1;
    }
    return 0;
}

/* The tracer when tracing (a new reference), else NULL: the one check of the
   hot path (`s.trace is not None`). */
static PyObject *
trace_ref(SchedObject *s)
{
    if (!atomic_load_explicit(&s->tracing, memory_order_relaxed))
        return NULL;
    PyObject *tr = read_ref((PyObject *)s, &s->trace);
    if (tr == Py_None) {
        Py_DECREF(tr);
        return NULL;
    }
    return tr;
}

/* tr.event(kind, m, gp) */
static int
trace_call(PyObject *tr, PyObject *kind, PyObject *m, PyObject *gp)
{
    PyObject *args[4] = {tr, kind, m != NULL ? m : Py_None, gp != NULL ? gp : Py_None};
    PyObject *r = PyObject_VectorcallMethod(str_event, args, 4, NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* tr.event(kind, m, gp, None, arg): the reason of a GoStop or GoBlock */
static int
trace_call_arg(PyObject *tr, PyObject *kind, PyObject *m, PyObject *gp, PyObject *arg)
{
    PyObject *args[6] = {tr, kind, m, gp, Py_None, arg};
    PyObject *r = PyObject_VectorcallMethod(str_event, args, 6, NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* GoBlock with the wait reason */
static int
trace_goblock(PyObject *tr, PyObject *m, GObject *g)
{
    PyObject *wr = Py_NewRef(g->waitreason);
    int r = trace_call_arg(tr, str_GoBlock, m, (PyObject *)g, wr);
    Py_DECREF(wr);
    return r;
}

/* The same, reading s.trace now (ready, newproc, goexit0). */
static int
trace_event(SchedObject *s, PyObject *kind, PyObject *m, PyObject *gp)
{
    PyObject *tr = trace_ref(s);
    if (tr == NULL)
        return 0;
    int r = trace_call(tr, kind, m, gp);
    Py_DECREF(tr);
    return r;
}

/* Raise proc._nogo(what): the "outside a running gort program" error. */
static void
raise_nogo(const char *what)
{
    PyObject *e = PyObject_CallFunction(cfg.nogo, "s", what);
    if (e != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
}

/* wakep, when the hint says an idle P and no spinning M (the caller's test). */
static int
maybe_wakep(SchedObject *s)
{
    if (s->npidle && !s->nmspinning)
        return void1(cfg.wakep, (PyObject *)s);
    return 0;
}

/* runqput_or_spill: runqput, the overflow batch (half the ring + 1) to the
   global queue under sched.lock (proc._runqspill). */
static int
runqput_or_spill_c(SchedObject *s, PObject *pp, PyObject *gp, int next)
{
    PyObject *batch;
    int r = runqput_c(pp, Py_NewRef(gp), next, &batch);
    if (r <= 0)
        return r;
    r = void2(cfg.runqspill, (PyObject *)s, batch);
    Py_DECREF(batch);
    return r;
}

/* pp went _Pdead (sysmon retired it) after the caller's check: flush_retired. */
static int
recheck_dead(PObject *pp, MObject *m)
{
    if (atomic_load(&pp->status) == Pdead)
        return void1(cfg.flush_retired, (PyObject *)m);
    return 0;
}

/* gfput: a dead G to pp's free list; the Python twin when that spills (or
   without a live P). */
static int
gfput_c(SchedObject *s, PyObject *ppo, PyObject *gp)
{
    if (Py_IS_TYPE(ppo, &PType) && atomic_load(&AS_P(ppo)->status) != Pdead) {
        PyObject *free = AS_P(ppo)->gfree;
        if (PyList_CheckExact(free) && PyList_GET_SIZE(free) + 1 < GFREE_MAX)
            return PyList_Append(free, gp);
    }
    return void3(cfg.gfput, (PyObject *)s, ppo, gp);
}

/* goexit0: gp's coroutine returned value. */
static int
goexit0_c(MObject *m, SchedObject *s, PyObject *gp, PyObject *value)
{
    GObject *g = AS_G(gp);
    atomic_store(&g->status, Gdead);
    Py_SETREF(m->curg, Py_NewRef(Py_None));
    if (trace_event(s, str_GoDestroy, (PyObject *)m, gp) < 0)
        return -1;
    if (gp == s->main_g) {
        if (PyObject_SetAttr((PyObject *)s, str_result, value) < 0)
            return -1;
        return void1(cfg.initiate_exit, (PyObject *)s);
    }
    Py_SETREF(g->coro, Py_NewRef(Py_None));
    Py_SETREF(g->param, Py_NewRef(Py_None));
    Py_SETREF(g->waiting, Py_NewRef(Py_None));
    Py_SETREF(g->waitreason, Py_NewRef(str_empty));
    if (!IS_NONE(g->lockedm))           /* it takes its thread with it: proc._goexit_locked */
        return void2(cfg.goexit_locked, (PyObject *)m, gp);
    PyObject *pp = Py_NewRef(m->p);
    int r = gfput_c(s, pp, gp);
    Py_DECREF(pp);
    return r;
}

static PyTypeObject ChanOpType;
static int chan_parkcommit(PyObject *op);
static int chanop_parked(PyObject *op);
static PyTypeObject SleepOpType;
static int sleepop_parked(PyObject *op);
static int sleepop_commit(PyObject *op);

/* schedule(m): the M's own loop (its g0), proc.schedule's twin: find a G, run
   it until it gives control back, repeat.  findRunnable's fast path (timers,
   the 61st-tick global check, runnext, the local queue, the global queue) and
   execute are here; the rest of findRunnable (netpoll, stealing, giving up the
   P) is proc.find_runnable. */
static PyObject *
schedule(PyObject *mod, PyObject *mo)
{
    if (check_m(mo) < 0)
        return NULL;
    MObject *m = AS_M(mo);
    SchedObject *s = (SchedObject *)Py_NewRef(m->sched);
    PyObject *grunq = Py_NewRef(s->runq);  /* the same queue for the whole run */
    PyObject *ppo = NULL, *gp = NULL, *tr = NULL;
    PyObject *result = NULL;
    if (check_gqueue(grunq) < 0)
        goto out;
    for (;;) {
        int inherit = 0;
        Py_XSETREF(ppo, Py_NewRef(m->p));
        if (!Py_IS_TYPE(ppo, &PType) || atomic_load(&AS_P(ppo)->status) == Pdead) {
            /* first of all: a P that sysmon retired while we were blocked in
               unmarked code is not ours any more (not even to stop for a STW) */
            if (ppo != Py_None && void1(cfg.flush_retired, mo) < 0)
                goto out;
            if (m->exiting || s->exiting) {
                if (void1(cfg.drop_abandoned, mo) < 0)
                    goto out;
                break;
            }
            if (IS_NONE(m->lockedg)) {
                if (void1(cfg.reacquirep, mo) < 0)
                    goto out;
                continue;
            }
        }
        if (s->stopflag) {
            if (s->exiting) {
                if (void1(cfg.drop_abandoned, mo) < 0)
                    goto out;
                break;
            }
            if (s->gcwaiting) {
                if (void1(cfg.gcstopm, mo) < 0)
                    goto out;
                continue;
            }
        }
        if (!IS_NONE(m->lockedg)) {
            gp = call1(cfg.stoplockedm, mo);
            if (gp == NULL)
                goto out;
            if (gp == Py_None)
                break;
            Py_XSETREF(ppo, Py_NewRef(m->p));
        }
        else {
            PObject *pp = AS_P(ppo);
            if (timers_check(mo, pp) < 0)             /* if pp.timers.heap: check_p */
                goto out;
            if (m->p != ppo)
                /* a timer's callback (ready, newproc) found pp retired and
                   flushed it: pp is nobody's now, a G put there would be lost */
                continue;
            if (pp->schedtick % FAIRNESS_TICK == 0 && gqueue_len(grunq))
                gp = globrunqget_c(s, pp, 1);
            if (gp == NULL)
                gp = runqget_c(pp, &inherit);
            if (gp == NULL && gqueue_len(grunq)) {
                if (s->global_only) {
                    /* Go 1.0's scheduler: under sched.lock (proc._globrunqget_locked) */
                    PyObject *lock = PyObject_GetAttrString((PyObject *)s, "lock");
                    if (lock == NULL)
                        goto out;
                    PyObject *r = PyObject_CallMethodNoArgs(lock, str_acquire);
                    if (r == NULL) {
                        Py_DECREF(lock);
                        goto out;
                    }
                    Py_DECREF(r);
                    gp = globrunqget_c(s, pp, 1);
                    r = PyObject_CallMethodNoArgs(lock, str_release);
                    Py_DECREF(lock);
                    if (r == NULL)
                        goto out;
                    Py_DECREF(r);
                }
                else if (gqueue_len(grunq) == 1)
                    /* no sched.lock: takers pop atomically and tolerate a racing taker */
                    gp = gqueue_get(grunq);
                else
                    gp = globrunqget_c(s, pp, 0);
            }
            if (gp == NULL) {
                PyObject *r = call1(cfg.find_runnable, mo);
                if (r == NULL)
                    goto out;
                if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
                    Py_DECREF(r);
                    PyErr_SetString(PyExc_TypeError, "find_runnable must return (gp, inherit)");
                    goto out;
                }
                if (PyTuple_GET_ITEM(r, 0) == Py_None) {
                    Py_DECREF(r);       /* the program or this M ends, or our P was retired */
                    /* P-less now: a spinner that leaves without looking again
                       must not keep counting (wakep would skip) */
                    if (m->spinning && void1(cfg.resetspinning, mo) < 0)
                        goto out;
                    continue;
                }
                gp = Py_NewRef(PyTuple_GET_ITEM(r, 0));
                inherit = PyObject_IsTrue(PyTuple_GET_ITEM(r, 1));
                Py_DECREF(r);
                if (inherit < 0 || check_g(gp) < 0)
                    goto out;
                Py_XSETREF(ppo, Py_NewRef(m->p));
            }
            if (m->spinning && void1(cfg.resetspinning, mo) < 0)
                goto out;
            PyObject *lm = AS_G(gp)->lockedm;
            if (!IS_NONE(lm) && lm != mo) {
                if (void2(cfg.startlockedm, mo, gp) < 0)
                    goto out;
                Py_CLEAR(gp);
                continue;
            }
        }
        if (!Py_IS_TYPE(ppo, &PType)) {
            PyErr_SetString(PyExc_RuntimeError, "schedule: no P to run a G on");
            goto out;
        }
        if (check_g(gp) < 0)
            goto out;
        /* execute: a new time slice unless gp inherits the current one (runnext) */
        PObject *pp = AS_P(ppo);
        GObject *g = AS_G(gp);
        if (!inherit) {
            pp->schedtick++;
            if (atomic_load_explicit(&pp->preempt, memory_order_relaxed))
                atomic_store(&pp->preempt, 0);
        }
        tr = trace_ref(s);
        for (;;) {
            Py_SETREF(m->curg, Py_NewRef(gp));
            atomic_store_explicit(&g->status, Grunning, memory_order_release);
            if (atomic_load_explicit(&g->preempt, memory_order_relaxed))
                atomic_store(&g->preempt, 0);
            if (tr != NULL && trace_call(tr, str_GoStart, mo, gp) < 0)
                goto out;
            PyObject *coro = read_ref(gp, &g->coro);
            PyObject *req;
            PySendResult sr = PyIter_Send(coro, Py_None, &req);
            Py_DECREF(coro);
            if (sr == PYGEN_RETURN) {
                int e = goexit0_c(m, s, gp, req);
                Py_DECREF(req);
                if (e < 0)
                    goto out;
                break;
            }
            if (sr == PYGEN_ERROR) {
                PyObject *exc = fetch_exc();
                int e = void3(cfg.gopanic, mo, gp, exc);
                Py_DECREF(exc);
                if (e < 0)
                    goto out;
                break;
            }
            PyTypeObject *t = Py_TYPE(req);
            if (t == &ChanOpType && chanop_parked(req)) {
                /* a channel operation parks: chanparkcommit unlocks the channel
                   once the G is marked waiting and detached */
                atomic_store_explicit(&g->status, Gwaiting, memory_order_release);
                g->waitsince = s->now;
                Py_SETREF(m->curg, Py_NewRef(Py_None));
                if (tr != NULL && trace_goblock(tr, mo, g) < 0) {
                    chan_parkcommit(req);
                    Py_DECREF(req);
                    goto out;
                }
                chan_parkcommit(req);
                Py_DECREF(req);
                break;
            }
            if (t == &SleepOpType && sleepop_parked(req)) {
                /* gort.sleep parks: resetForSleep arms the timer once the G is parked */
                atomic_store_explicit(&g->status, Gwaiting, memory_order_release);
                g->waitsince = s->now;
                Py_SETREF(m->curg, Py_NewRef(Py_None));
                int e = tr != NULL ? trace_goblock(tr, mo, g) : 0;
                if (e == 0)
                    e = sleepop_commit(req);
                Py_DECREF(req);
                if (e < 0)
                    goto out;
                break;
            }
            if (req == cfg.YIELD) {
                /* Gosched / preemption: to the global queue tail */
                Py_DECREF(req);
                atomic_store_explicit(&g->status, Grunnable, memory_order_release);
                Py_SETREF(m->curg, Py_NewRef(Py_None));
                if (tr != NULL && trace_call_arg(tr, str_GoStop, mo, gp,
                                                 atomic_load(&g->preempt) ? str_preempted : str_Gosched) < 0)
                    goto out;
                /* without sched.lock: this M holds a P and looks at the global
                   queue itself, so no wake-up can be lost */
                if (s->global_only) {
                    if (void2(cfg.globrunqput_locked, (PyObject *)s, gp) < 0)
                        goto out;
                }
                else if (gqueue_put_ref(grunq, Py_NewRef(gp), 0) < 0)
                    goto out;
                if (maybe_wakep(s) < 0)
                    goto out;
                break;
            }
            if (t == &PyMethod_Type || t == &PyFunction_Type || t == &PyCFunction_Type) {
                /* gopark: mark waiting and detach first, only then run the unlock callback */
                atomic_store_explicit(&g->status, Gwaiting, memory_order_release);
                g->waitsince = s->now;
                Py_SETREF(m->curg, Py_NewRef(Py_None));
                if (tr != NULL && trace_goblock(tr, mo, g) < 0) {
                    Py_DECREF(req);
                    goto out;
                }
                PyObject *ok = PyObject_CallNoArgs(req);
                Py_DECREF(req);
                if (ok == NULL)
                    goto out;
                int again = ok == Py_False;
                Py_DECREF(ok);
                if (again)
                    continue;           /* unlockf said no: keep running it, same slice */
                break;
            }
            atomic_store_explicit(&g->status, Grunnable, memory_order_release);
            Py_SETREF(m->curg, Py_NewRef(Py_None));
            int istrap = PyObject_IsInstance(req, cfg.Trap);
            if (istrap < 0) {
                Py_DECREF(req);
                goto out;
            }
            if (!istrap) {              /* something gort does not drive: a TypeError at its await */
                Py_SETREF(req, call1(cfg.ForeignAwait, req));
                if (req == NULL)
                    goto out;
            }
            PyObject *args[3] = {req, mo, gp};
            PyObject *ok = PyObject_VectorcallMethod(str_trap, args, 3, NULL);
            Py_DECREF(req);
            if (ok == NULL)
                goto out;
            int resume = PyObject_IsTrue(ok);
            Py_DECREF(ok);
            if (resume < 0)
                goto out;
            if (!resume || IS_NONE(m->p))
                break;                  /* handed off, or the trap lost the P */
        }
        Py_CLEAR(tr);
        Py_CLEAR(gp);
        if (m->exiting)                 /* its locked G exited: the thread goes with it */
            break;
    }
    result = Py_NewRef(Py_None);
out:
    Py_XDECREF(tr);
    Py_XDECREF(gp);
    Py_XDECREF(ppo);
    Py_DECREF(grunq);
    Py_DECREF(s);
    return result;
}

/* ---------------------------------------------------------------- ready, newproc, go */

/* ready (goready): gp, parked, becomes runnable in the caller's P's runnext,
   then wakep.  A caller without a P of its own (sysmon, a thread in a syscall
   or stuck in unmarked code, a foreign thread) puts gp on the global queue. */
static int
ready_c(PyObject *gp, PyObject *s_arg)
{
    GObject *g = AS_G(gp);
    int st = Gwaiting;
    if (!atomic_compare_exchange_strong(&g->status, &st, Grunnable)) {
        const char *name = gstatus_name(st);
        PyErr_Format(PyExc_RuntimeError, "bad g->status in ready: G%lld is %s", g->goid,
                     name != NULL ? name : "None");
        return -1;
    }
    MObject *m = current_m();
    PyObject *so, *ppo = NULL;
    int r = -1;
    if (m == NULL) {
        so = !IS_NONE(s_arg) ? Py_NewRef(s_arg) : PyObject_GetAttrString(cfg.proc, "sched");
        if (so == NULL)
            return -1;
    }
    else {
        so = Py_NewRef(m->sched);
        ppo = Py_NewRef(m->p);
        if (Py_IS_TYPE(ppo, &PType) && atomic_load(&AS_P(ppo)->status) == Pdead) {
            if (void1(cfg.flush_retired, (PyObject *)m) < 0)
                goto out;
            Py_CLEAR(ppo);
        }
    }
    if (!PyObject_TypeCheck(so, &SchedCoreType)) {
        PyErr_SetString(PyExc_TypeError, "ready: not a gort Sched");
        goto out;
    }
    SchedObject *s = AS_S(so);
    if (trace_event(s, str_GoUnblock, (PyObject *)m, gp) < 0)
        goto out;
    if (ppo == NULL || !Py_IS_TYPE(ppo, &PType) || s->global_only) {
        r = void2(cfg.globrunqput_wake, so, gp);
        goto out;
    }
    PObject *pp = AS_P(ppo);
    /* readied by the scheduler itself (a timer run between goroutines) after
       the time slice ran out: the local queue's tail (see proc.ready) */
    int next = !(atomic_load_explicit(&pp->preempt, memory_order_relaxed) && IS_NONE(m->curg));
    if (runqput_or_spill_c(s, pp, gp, next) < 0 || recheck_dead(pp, m) < 0 || maybe_wakep(s) < 0)
        goto out;
    r = 0;
out:
    Py_XDECREF(ppo);
    Py_DECREF(so);
    return r;
}

/* ready(gp, s=None) */
static PyObject *
ready(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "ready(gp, s=None)");
        return NULL;
    }
    if (check_g(args[0]) < 0 || ready_c(args[0], nargs > 1 ? args[1] : NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* gfget: a dead G from pp's free list (a new reference), or NULL; the Python
   twin refills from the global list. */
static PyObject *
gfget_c(SchedObject *s, PObject *pp)
{
    PyObject *free = pp->gfree;
    if (PyList_CheckExact(free)) {
        Py_ssize_t n = PyList_GET_SIZE(free);
        if (n > 0) {
            PyObject *gp = Py_NewRef(PyList_GET_ITEM(free, n - 1));
            if (PyList_SetSlice(free, n - 1, n, NULL) < 0) {
                Py_DECREF(gp);
                return NULL;
            }
            return gp;
        }
    }
    PyObject *gp = call2(cfg.gfget, (PyObject *)s, (PyObject *)pp);
    if (gp == Py_None) {
        Py_DECREF(gp);
        return NULL;
    }
    return gp;
}

/* The creation site (Go's gopc): the code object and byte offset of the
   Python frame `up` frames above the running one (0: the caller of go, a C
   function; 1: the caller's caller, as proc.newproc's _getframe(2)). */
static void
record_gopc(GObject *g, int up)
{
    PyFrameObject *f = PyEval_GetFrame();         /* borrowed */
    PyFrameObject *back = NULL;
    if (f != NULL && up > 0)
        f = back = PyFrame_GetBack(f);            /* new reference */
    if (f == NULL) {
        Py_SETREF(g->gopc, Py_NewRef(Py_None));
        g->gopcpc = -1;
        return;
    }
    Py_SETREF(g->gopc, (PyObject *)PyFrame_GetCode(f));
    g->gopcpc = PyFrame_GetLasti(f);
    Py_XDECREF(back);
}

/* newproc: a G for coro in m's P's runnext (the global queue without a P).
   Returns the G (a new reference).  up: see record_gopc. */
static PyObject *
newproc_c(PyObject *coro, PyObject *mo, PyObject *s_arg, int up)
{
    MObject *m = IS_NONE(mo) ? NULL : AS_M(mo);
    PyObject *so;
    if (!IS_NONE(s_arg))
        so = Py_NewRef(s_arg);
    else if (m != NULL)
        so = Py_NewRef(m->sched);
    else if ((so = PyObject_GetAttrString(cfg.proc, "sched")) == NULL)
        return NULL;
    PyObject *ppo = NULL, *gp = NULL;
    if (!PyObject_TypeCheck(so, &SchedCoreType)) {
        PyErr_SetString(PyExc_TypeError, "newproc: not a gort Sched");
        goto error;
    }
    SchedObject *s = AS_S(so);
    if (m != NULL) {                    /* _mine(m): its P, unless sysmon retired it */
        ppo = Py_NewRef(m->p);
        if (!Py_IS_TYPE(ppo, &PType))
            Py_CLEAR(ppo);
        else if (atomic_load(&AS_P(ppo)->status) == Pdead) {
            Py_CLEAR(ppo);
            if (void1(cfg.flush_retired, mo) < 0)
                goto error;
        }
    }
    PObject *pp = (PObject *)ppo;
    if (pp != NULL) {
        gp = gfget_c(s, pp);
        if (gp == NULL && PyErr_Occurred())
            goto error;
    }
    if (gp == NULL) {
        gp = G_new(&GType, NULL, NULL);
        if (gp == NULL || PyList_Append(s->allgs, gp) < 0)
            goto error;
    }
    GObject *g = AS_G(gp);
    if (pp != NULL && pp->goidcache != pp->goidcacheend)
        g->goid = pp->goidcache++;
    else {
        PyObject *id = call2(cfg.newgoid, so, ppo != NULL ? ppo : Py_None);
        if (id == NULL)
            goto error;
        g->goid = PyLong_AsLongLong(id);
        Py_DECREF(id);
        if (g->goid == -1 && PyErr_Occurred())
            goto error;
    }
    Py_SETREF(g->coro, Py_NewRef(coro));
    atomic_store(&g->status, Grunnable);
    record_gopc(g, up);
    PyObject *cg = m != NULL ? m->curg : Py_None;    /* its creator (a G or None) */
    Py_SETREF(g->parent, Py_NewRef(cg));
    g->parentgoid = Py_IS_TYPE(cg, &GType) ? AS_G(cg)->goid : 0;
    PyObject *tr = trace_ref(s);
    if (tr != NULL) {
        PyObject *args[3] = {tr, mo != NULL ? mo : Py_None, gp};
        PyObject *r = PyObject_VectorcallMethod(str_gocreate, args, 3, NULL);
        Py_DECREF(tr);
        if (r == NULL)
            goto error;
        Py_DECREF(r);
    }
    if (pp == NULL || s->global_only) {
        if (void2(cfg.globrunqput_wake, so, gp) < 0)
            goto error;
    }
    else {
        if (runqput_or_spill_c(s, pp, gp, 1) < 0 || recheck_dead(pp, m) < 0)
            goto error;
        if (s->main_started && maybe_wakep(s) < 0)
            goto error;
    }
    Py_XDECREF(ppo);
    Py_DECREF(so);
    return gp;
error:
    Py_XDECREF(gp);
    Py_XDECREF(ppo);
    Py_DECREF(so);
    return NULL;
}

/* newproc(coro, m, s=None) -> G */
static PyObject *
newproc(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "newproc(coro, m, s=None)");
        return NULL;
    }
    if (!IS_NONE(args[1]) && check_m(args[1]) < 0)
        return NULL;
    return newproc_c(args[0], args[1], nargs > 2 ? args[2] : NULL, 1);
}

/* fn returns something to await, by the cheap test (proc.is_async does the rest). */
static int
is_async_fast(PyObject *fn)
{
    if (PyFunction_Check(fn)) {
        PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(fn);
        return (code->co_flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE)) != 0;
    }
    return 0;
}

/* go(fn, *args, **kwargs): Go's `go` statement (proc.go's twin). */
static PyObject *
go(PyObject *mod, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "go() missing required argument: 'fn'");
        return NULL;
    }
    MObject *m = current_m();
    if (m == NULL || !AS_S(m->sched)->main_started) {
        raise_nogo("gort.go");
        return NULL;
    }
    if (AS_S(m->sched)->exiting) {
        PyErr_SetString(PyExc_RuntimeError, "gort.go: this goroutine's program has ended (gort.run returned)");
        return NULL;
    }
    PyObject *fn = args[0];
    PyObject *what = NULL;
    if (!is_async_fast(fn)) {
        what = PyUnicode_FromString("gort.go");
        if (what == NULL || void2(cfg.check_async, fn, what) < 0) {
            Py_XDECREF(what);
            return NULL;
        }
    }
    PyObject *coro = PyObject_Vectorcall(fn, args + 1, nargs - 1, kwnames);
    if (coro == NULL) {
        Py_XDECREF(what);
        return NULL;
    }
    if (!Py_IS_TYPE(coro, &PyCoro_Type)) {
        if (what == NULL && (what = PyUnicode_FromString("gort.go")) == NULL) {
            Py_DECREF(coro);
            return NULL;
        }
        Py_SETREF(coro, call3(cfg.as_coroutine, coro, fn, what));
        if (coro == NULL) {
            Py_DECREF(what);
            return NULL;
        }
    }
    Py_XDECREF(what);
    PyObject *gp = newproc_c(coro, (PyObject *)m, NULL, 0);
    Py_DECREF(coro);
    if (gp == NULL)
        return NULL;
    Py_DECREF(gp);
    Py_RETURN_NONE;
}

/* runqput_or_spill(s, pp, gp, next) */
static PyObject *
runqput_or_spill(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "runqput_or_spill(s, pp, gp, next)");
        return NULL;
    }
    if (!PyObject_TypeCheck(args[0], &SchedCoreType) || check_p(args[1]) < 0 || check_g(args[2]) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "runqput_or_spill: not a gort Sched");
        return NULL;
    }
    int next = PyObject_IsTrue(args[3]);
    if (next < 0 || runqput_or_spill_c(AS_S(args[0]), AS_P(args[1]), args[2], next) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- the await-check and generator protocol */

/* GORT_DEBUG=1 / -X dev: an operation remembers where it was made, so that a
   forgotten await names the file:line (set by gort.debug). */
static int check_await = 0;

static PyObject *
set_check_await(PyObject *mod, PyObject *on)
{
    int v = PyObject_IsTrue(on);
    if (v < 0)
        return NULL;
    check_await = v;
    Py_RETURN_NONE;
}

/* (filename, lineno) of the Python code calling the operation, when the check is on. */
static PyObject *
origin_here(void)
{
    if (!check_await)
        return NULL;
    PyFrameObject *f = PyEval_GetFrame();     /* borrowed */
    if (f == NULL)
        return NULL;
    PyCodeObject *code = PyFrame_GetCode(f);
    PyObject *o = Py_BuildValue("(Oi)", code->co_filename, PyFrame_GetLineNumber(f));
    Py_DECREF(code);
    if (o == NULL)
        PyErr_Clear();
    return o;
}

/* The RuntimeWarning for an operation collected without being awaited (as
   asyncio's "coroutine ... was never awaited"; always on for C operations). */
static void
warn_unawaited(PyObject *self, const char *name, PyObject *origin)
{
    PyObject *exc = fetch_exc();
    int r;
    if (origin != NULL) {
        PyObject *msg = PyUnicode_FromFormat(
            "gort operation %s() was never awaited: without `await` it does nothing", name);
        r = msg == NULL ? -1 : PyErr_WarnExplicitObject(
            PyExc_RuntimeWarning, msg, PyTuple_GET_ITEM(origin, 0),
            (int)PyLong_AsLong(PyTuple_GET_ITEM(origin, 1)), NULL, NULL);
        Py_XDECREF(msg);
    }
    else
        r = PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                             "gort operation %s() was never awaited: without `await` it does nothing",
                             name);
    if (r < 0)
        PyErr_WriteUnraisable(self);
    restore_exc(exc);
}

/* StopIteration(value) raised: what a generator's send does when it returns. */
static PyObject *
raise_stop(PyObject *value)
{
    if (value == Py_None) {
        Py_DECREF(value);
        PyErr_SetNone(PyExc_StopIteration);
        return NULL;
    }
    PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (e != NULL) {
        PyErr_SetObject(PyExc_StopIteration, e);
        Py_DECREF(e);
    }
    return NULL;
}

typedef PySendResult (*stepfunc)(PyObject *self, PyObject *arg, PyObject **result);

/* op.send(v), as a generator's: the yielded value, or StopIteration(result). */
static PyObject *
aw_send(PyObject *self, PyObject *arg, stepfunc step)
{
    PyObject *res;
    switch (step(self, arg, &res)) {
    case PYGEN_NEXT:
        return res;
    case PYGEN_RETURN:
        return raise_stop(res);
    default:
        return NULL;
    }
}

/* tp_iternext: send(None), exhaustion without an exception when the result is None. */
static PyObject *
aw_next(PyObject *self, stepfunc step)
{
    PyObject *res;
    switch (step(self, Py_None, &res)) {
    case PYGEN_NEXT:
        return res;
    case PYGEN_RETURN:
        if (res == Py_None) {
            Py_DECREF(res);
            return NULL;
        }
        return raise_stop(res);
    default:
        return NULL;
    }
}

/* op.throw(exc) / throw(type[, value[, tb]]): raised at the operation's yield
   point, where nothing catches it (as gort's generator operations). */
static PyObject *
aw_throw(PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    PyObject *typ = args[0];
    PyObject *val = nargs > 1 ? args[1] : Py_None;
    PyObject *tb = nargs > 2 ? args[2] : Py_None;
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return NULL;
        }
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
    }
    else if (PyExceptionClass_Check(typ))
        PyErr_SetObject(typ, val == Py_None ? NULL : val);
    else {
        PyErr_SetString(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException");
        return NULL;
    }
    if (tb != Py_None) {
        PyObject *e = fetch_exc();
        PyException_SetTraceback(e, tb);
        restore_exc(e);
    }
    return NULL;
}

static PyObject *
aw_self(PyObject *self)
{
    return Py_NewRef(self);
}

/* ---------------------------------------------------------------- gosched, preempt_point, park_forever */

enum { OP_NEW = 0, OP_YIELDED = 1, OP_DONE = 2, OP_PARKED = 3 };
enum { Y_GOSCHED = 0, Y_PREEMPT = 1, Y_FOREVER = 2 };

/* The awaitable of gosched (yield the P), preempt_point (yield if our G was
   asked to) and park_forever (block for good): each yields once to its M. */
typedef struct {
    PyObject_HEAD
    char kind, state;
    PyObject *reason;             /* park_forever's wait reason */
    PyObject *origin;             /* (file, line) with the await check on */
} YieldOpObject;

static PyTypeObject YieldOpType;

static PyObject *
yieldop_make(int kind, PyObject *reason)
{
    YieldOpObject *op = PyObject_New(YieldOpObject, &YieldOpType);
    if (op == NULL)
        return NULL;
    op->kind = (char)kind;
    op->state = OP_NEW;
    op->reason = Py_XNewRef(reason);
    op->origin = kind == Y_GOSCHED ? origin_here() : NULL;
    return (PyObject *)op;
}

static PySendResult
yieldop_step(PyObject *self, PyObject *arg, PyObject **result)
{
    YieldOpObject *op = (YieldOpObject *)self;
    *result = NULL;
    if (op->state == OP_NEW) {
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started generator");
            return PYGEN_ERROR;
        }
        op->state = OP_DONE;
        MObject *m = current_m();
        switch (op->kind) {
        case Y_GOSCHED:
            if (m == NULL) {
                raise_nogo("gort.gosched");
                return PYGEN_ERROR;
            }
            op->state = OP_YIELDED;
            *result = Py_NewRef(cfg.YIELD);
            return PYGEN_NEXT;
        case Y_PREEMPT:
            if (m != NULL && Py_IS_TYPE(m->curg, &GType) && atomic_load(&AS_G(m->curg)->preempt)) {
                op->state = OP_YIELDED;
                *result = Py_NewRef(cfg.YIELD);
                return PYGEN_NEXT;
            }
            *result = Py_NewRef(Py_None);
            return PYGEN_RETURN;
        default:
            if (m == NULL || !Py_IS_TYPE(m->curg, &GType)) {
                raise_nogo("a blocking gort operation");
                return PYGEN_ERROR;
            }
            Py_SETREF(AS_G(m->curg)->waitreason, Py_NewRef(op->reason));
            op->state = OP_YIELDED;
            *result = Py_NewRef(cfg.true_fn);
            return PYGEN_NEXT;
        }
    }
    if (op->state == OP_YIELDED) {
        op->state = OP_DONE;
        if (op->kind == Y_FOREVER) {
            PyErr_SetString(PyExc_RuntimeError, "park_forever: woken");
            return PYGEN_ERROR;
        }
    }
    *result = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

static void
YieldOp_finalize(YieldOpObject *op)
{
    if (op->state == OP_NEW && op->kind == Y_GOSCHED) {
        op->state = OP_DONE;
        warn_unawaited((PyObject *)op, "gosched", op->origin);
    }
}

static void
YieldOp_dealloc(YieldOpObject *op)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)op) < 0)
        return;                           /* resurrected */
    Py_XDECREF(op->reason);
    Py_XDECREF(op->origin);
    PyObject_Free(op);
}

static PyObject *YieldOp_send(PyObject *self, PyObject *arg) { return aw_send(self, arg, yieldop_step); }
static PyObject *YieldOp_next(PyObject *self) { return aw_next(self, yieldop_step); }

static PyObject *
YieldOp_throw(YieldOpObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    op->state = OP_DONE;
    return aw_throw(args, nargs);
}

static PyObject *
YieldOp_close(YieldOpObject *op, PyObject *unused)
{
    op->state = OP_DONE;
    Py_RETURN_NONE;
}

static PyObject *
YieldOp_repr(YieldOpObject *op)
{
    static const char *names[] = {"gosched", "preempt_point", "park_forever"};
    return PyUnicode_FromFormat("<gort awaitable %s()>", names[(int)op->kind]);
}

static PyMethodDef YieldOp_methods[] = {
    {"send", (PyCFunction)YieldOp_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))YieldOp_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)YieldOp_close, METH_NOARGS, NULL},
    {NULL},
};

static PyAsyncMethods YieldOp_async = {
    .am_await = aw_self,
    .am_send = yieldop_step,
};

static PyTypeObject YieldOpType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort._accel.YieldOp",
    .tp_doc = "The awaitable of gosched, preempt_point and park_forever.",
    .tp_basicsize = sizeof(YieldOpObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_dealloc = (destructor)YieldOp_dealloc,
    .tp_finalize = (destructor)YieldOp_finalize,
    .tp_repr = (reprfunc)YieldOp_repr,
    .tp_as_async = &YieldOp_async,
    .tp_iter = aw_self,
    .tp_iternext = YieldOp_next,
    .tp_methods = YieldOp_methods,
};

/* gosched(): `await gort.gosched()` yields the P: the G goes to the global queue tail. */
static PyObject *
gosched(PyObject *mod, PyObject *unused)
{
    return yieldop_make(Y_GOSCHED, NULL);
}

/* preempt_point(): `yield from` it when the global flag says some G has a
   preemption request: if it is ours, yield to the M (Go's stackguard check). */
static PyObject *
preempt_point(PyObject *mod, PyObject *unused)
{
    return yieldop_make(Y_PREEMPT, NULL);
}

/* park_forever(reason): block for good (nil channel operations, select with no cases). */
static PyObject *
park_forever(PyObject *mod, PyObject *reason)
{
    return yieldop_make(Y_FOREVER, reason);
}

/* ---------------------------------------------------------------- sleep (time.py) */

/* gort.sleep(seconds)'s awaitable (time.sleep's twin): with seconds > 0 it
   parks the G with the wait reason "sleep" and yields itself to the M, whose
   park commit arms the G's runtime timer (t.modify(when): Go's resetForSleep,
   arming only once parked, so a tiny sleep cannot fire before the G sleeps);
   seconds <= 0 just yields (Gosched). */
typedef struct {
    PyObject_HEAD
    char state;
    PyObject *seconds;
    PyObject *timer;              /* the G's runtime timer, once parked */
    PyObject *when;
    PyObject *origin;             /* (file, line) with the await check on */
} SleepOpObject;

static PyTypeObject SleepOpType;

static PyObject *str_sleep, *str_modify;

/* sleep(seconds) -> awaitable */
static PyObject *
sleep_(PyObject *mod, PyObject *seconds)
{
    SleepOpObject *op = PyObject_GC_New(SleepOpObject, &SleepOpType);
    if (op == NULL)
        return NULL;
    op->state = OP_NEW;
    op->seconds = Py_NewRef(seconds);
    op->timer = NULL;
    op->when = NULL;
    op->origin = origin_here();
    PyObject_GC_Track(op);
    return (PyObject *)op;
}

static PySendResult
sleepop_step(PyObject *self, PyObject *arg, PyObject **result)
{
    SleepOpObject *op = (SleepOpObject *)self;
    *result = NULL;
    if (op->state != OP_NEW) {
        op->state = OP_DONE;
        *result = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    }
    if (arg != Py_None) {
        PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started generator");
        return PYGEN_ERROR;
    }
    op->state = OP_DONE;
    MObject *m = current_m();
    if (m == NULL || !Py_IS_TYPE(m->curg, &GType)) {
        raise_nogo("gort.sleep");
        return PYGEN_ERROR;
    }
    int later = PyObject_RichCompareBool(op->seconds, int_zero, Py_GT);
    if (later < 0) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError))
            return PYGEN_ERROR;
        PyErr_Clear();                    /* raise _not_seconds(...) from None */
        PyObject *e = call2(cfg.not_seconds, str_gort_sleep, op->seconds);
        if (e != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(e), e);
            PyObject *exc = fetch_exc();
            PyException_SetCause(exc, Py_NewRef(Py_None));   /* from None: no cause, context hidden */
            restore_exc(exc);
            Py_DECREF(e);
        }
        return PYGEN_ERROR;
    }
    if (!later) {
        /* seconds != seconds, without RichCompareBool's identity shortcut */
        PyObject *ne = PyObject_RichCompare(op->seconds, op->seconds, Py_NE);
        if (ne == NULL)
            return PYGEN_ERROR;
        int nan = PyObject_IsTrue(ne);
        Py_DECREF(ne);
        if (nan < 0)
            return PYGEN_ERROR;
        if (nan) {
            PyErr_SetString(PyExc_ValueError, "gort.sleep: duration is NaN");
            return PYGEN_ERROR;
        }
        op->state = OP_YIELDED;
        *result = Py_NewRef(cfg.YIELD);
        return PYGEN_NEXT;
    }
    GObject *g = AS_G(m->curg);
    PyObject *t = Py_NewRef(g->timer);
    if (t == Py_None) {
        Py_DECREF(t);
        t = call2(cfg.RTimer, cfg.goroutine_ready, (PyObject *)g);
        if (t == NULL)
            return PYGEN_ERROR;
        Py_SETREF(g->timer, Py_NewRef(t));
    }
    PyObject *now = PyFloat_FromDouble(monotonic_now());
    PyObject *when = now != NULL ? PyNumber_Add(now, op->seconds) : NULL;
    Py_XDECREF(now);
    if (when == NULL) {
        Py_DECREF(t);
        return PYGEN_ERROR;
    }
    Py_SETREF(g->waitreason, Py_NewRef(str_sleep));
    Py_XSETREF(op->timer, t);
    Py_XSETREF(op->when, when);
    op->state = OP_PARKED;
    *result = Py_NewRef(self);
    return PYGEN_NEXT;
}

/* The park commit (the M calls it once the G is parked): arm the timer. */
static int
sleepop_commit(PyObject *self)
{
    SleepOpObject *op = (SleepOpObject *)self;
    PyObject *r = PyObject_CallMethodOneArg(op->timer, str_modify, op->when);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
sleepop_parked(PyObject *op)
{
    return ((SleepOpObject *)op)->state == OP_PARKED;
}

static PyObject *
SleepOp_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    if (!sleepop_parked(self)) {
        PyErr_SetString(PyExc_RuntimeError, "resetForSleep: the sleep is not parked");
        return NULL;
    }
    if (sleepop_commit(self) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static void
SleepOp_finalize(SleepOpObject *op)
{
    if (op->state == OP_NEW) {
        op->state = OP_DONE;
        warn_unawaited((PyObject *)op, "sleep", op->origin);
    }
}

static int
SleepOp_traverse(SleepOpObject *op, visitproc visit, void *arg)
{
    Py_VISIT(op->seconds);
    Py_VISIT(op->timer);
    Py_VISIT(op->when);
    Py_VISIT(op->origin);
    return 0;
}

static int
SleepOp_clear(SleepOpObject *op)
{
    Py_CLEAR(op->seconds);
    Py_CLEAR(op->timer);
    Py_CLEAR(op->when);
    Py_CLEAR(op->origin);
    return 0;
}

static void
SleepOp_dealloc(SleepOpObject *op)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)op) < 0)
        return;                           /* resurrected */
    PyObject_GC_UnTrack(op);
    SleepOp_clear(op);
    PyObject_GC_Del(op);
}

static PyObject *SleepOp_send(PyObject *self, PyObject *arg) { return aw_send(self, arg, sleepop_step); }
static PyObject *SleepOp_next(PyObject *self) { return aw_next(self, sleepop_step); }

static PyObject *
SleepOp_throw(SleepOpObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    op->state = OP_DONE;
    return aw_throw(args, nargs);
}

static PyObject *
SleepOp_close(SleepOpObject *op, PyObject *unused)
{
    op->state = OP_DONE;
    Py_RETURN_NONE;
}

static PyObject *
SleepOp_repr(SleepOpObject *op)
{
    return PyUnicode_FromString("<gort awaitable sleep()>");
}

static PyMethodDef SleepOp_methods[] = {
    {"send", (PyCFunction)SleepOp_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))SleepOp_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)SleepOp_close, METH_NOARGS, NULL},
    {NULL},
};

static PyAsyncMethods SleepOp_async = {
    .am_await = aw_self,
    .am_send = sleepop_step,
};

static PyTypeObject SleepOpType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort._accel.SleepOp",
    .tp_doc = "The awaitable of gort.sleep.",
    .tp_basicsize = sizeof(SleepOpObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_dealloc = (destructor)SleepOp_dealloc,
    .tp_finalize = (destructor)SleepOp_finalize,
    .tp_traverse = (traverseproc)SleepOp_traverse,
    .tp_clear = (inquiry)SleepOp_clear,
    .tp_repr = (reprfunc)SleepOp_repr,
    .tp_call = SleepOp_call,
    .tp_as_async = &SleepOp_async,
    .tp_iter = aw_self,
    .tp_iternext = SleepOp_next,
    .tp_methods = SleepOp_methods,
};

/* goroutine_ready(gp, seq, delay): a sleep's timer function (time._goroutine_ready). */
static PyObject *
goroutine_ready(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "goroutine_ready(gp, seq, delay)");
        return NULL;
    }
    if (check_g(args[0]) < 0 || ready_c(args[0], NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* preempt_flag[0]: sysmon's "some G has a preemption request". */
static inline int
preempt_requested(void)
{
    return PyList_GET_ITEM(cfg.preempt_flag, 0) == Py_True;
}


/* ================================================================ channels (chan.py) */

/* The channel lock (Go's hchan.lock).  It is held across Python code (select
   holds several while it runs) and across a park (chanparkcommit releases
   it), so it must let other threads run while it waits: PyMutex from 3.13
   (it detaches the thread state while it blocks); before that, a one-word
   lock that gives up the GIL and the CPU while it waits.  Why not
   PyThread_allocate_lock on 3.11: a separately allocated semaphore (48 bytes
   with malloc's overhead) for every channel, for no speed gain: with the GIL,
   contention is rare (the C fast paths never release the GIL while they
   hold it), and a contended waiter must give up the GIL either way. */
#if PY_VERSION_HEX >= 0x030D0000
typedef PyMutex chanlock_t;

static inline void
chan_lock(chanlock_t *l)
{
    PyMutex_Lock(l);
}

static inline int
chan_trylock(chanlock_t *l)
{
    uint8_t unlocked = 0;
    return __atomic_compare_exchange_n(&l->_bits, &unlocked, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline int
chan_locked(chanlock_t *l)
{
    return __atomic_load_n(&l->_bits, __ATOMIC_RELAXED) & 1;
}

static inline void
chan_unlock(chanlock_t *l)
{
    PyMutex_Unlock(l);
}
#else
typedef struct { atomic_int v; } chanlock_t;

static inline int
chan_trylock(chanlock_t *l)
{
    int unlocked = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &unlocked, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void
chan_lock(chanlock_t *l)
{
    while (!chan_trylock(l)) {
        Py_BEGIN_ALLOW_THREADS         /* the holder may need the GIL to get on */
        sched_yield();
        Py_END_ALLOW_THREADS
    }
}

static inline int
chan_locked(chanlock_t *l)
{
    return atomic_load_explicit(&l->v, memory_order_relaxed);
}

static inline void
chan_unlock(chanlock_t *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_release);
}
#endif

/* chan.Sudog: one G waiting in one channel queue (runtime2.go sudog).  A
   select's sudog (SelSudog) also says which channel and case it stands for;
   a plain channel wait is the operation's awaitable itself (ChanOp extends
   Sudog), so a parked goroutine costs no extra object. */
typedef struct SudogObject {
    PyObject_HEAD
    PyObject *g;
    PyObject *elem;
    struct SudogObject *next, *prev;   /* wait queue links; the queue holds a reference */
    PyObject *c;                  /* the channel (select sudogs and channel operations) */
    int case_;                    /* select case index; -1 for a plain wait */
    char success;
    char queued;                  /* in a wait queue now */
} SudogObject;

static PyTypeObject SudogType, SelSudogType;

static int
Sudog_init_fields(SudogObject *sg, PyObject *g, PyObject *elem, PyObject *c, int case_)
{
    sg->g = Py_NewRef(g);
    sg->elem = Py_NewRef(elem);
    sg->c = Py_NewRef(c);
    sg->next = sg->prev = NULL;
    sg->case_ = case_;
    sg->success = 0;
    sg->queued = 0;
    return 0;
}

static PyObject *
Sudog_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"g", "elem", NULL};
    PyObject *g, *elem;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:Sudog", kwlist, &g, &elem))
        return NULL;
    SudogObject *sg = (SudogObject *)type->tp_alloc(type, 0);
    if (sg != NULL)
        Sudog_init_fields(sg, g, elem, Py_None, -1);
    return (PyObject *)sg;
}

static PyObject *
SelSudog_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"g", "elem", "c", "case", NULL};
    PyObject *g, *elem, *c;
    int case_;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOi:SelSudog", kwlist, &g, &elem, &c, &case_))
        return NULL;
    SudogObject *sg = (SudogObject *)type->tp_alloc(type, 0);
    if (sg != NULL)
        Sudog_init_fields(sg, g, elem, c, case_);
    return (PyObject *)sg;
}

static int
Sudog_traverse(SudogObject *sg, visitproc visit, void *arg)
{
    Py_VISIT(sg->g);
    Py_VISIT(sg->elem);
    Py_VISIT(sg->c);
    return 0;
}

static int
Sudog_clear(SudogObject *sg)
{
    Py_CLEAR(sg->g);
    Py_CLEAR(sg->elem);
    Py_CLEAR(sg->c);
    return 0;
}

static void
Sudog_dealloc(SudogObject *sg)
{
    PyObject_GC_UnTrack(sg);
    Sudog_clear(sg);
    Py_TYPE(sg)->tp_free((PyObject *)sg);
}

static PyMemberDef Sudog_members[] = {
    {"g", Py_T_OBJECT_EX, offsetof(SudogObject, g), 0, NULL},
    {"elem", Py_T_OBJECT_EX, offsetof(SudogObject, elem), 0, NULL},
    {"success", Py_T_BOOL, offsetof(SudogObject, success), 0, NULL},
    {"case", Py_T_INT, offsetof(SudogObject, case_), Py_READONLY, NULL},
    {"c", Py_T_OBJECT_EX, offsetof(SudogObject, c), Py_READONLY, NULL},
    {NULL},
};

static PyTypeObject SudogType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.chan.Sudog",
    .tp_doc = "Sudog(g, elem): one G waiting in one channel queue (Go's sudog).",
    .tp_basicsize = sizeof(SudogObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_new = Sudog_new,
    .tp_dealloc = (destructor)Sudog_dealloc,
    .tp_traverse = (traverseproc)Sudog_traverse,
    .tp_clear = (inquiry)Sudog_clear,
    .tp_members = Sudog_members,
};

static PyTypeObject SelSudogType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.chan.SelSudog",
    .tp_doc = "SelSudog(g, elem, c, case): a select's sudog: which channel and which case.",
    .tp_basicsize = sizeof(SudogObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = SelSudog_new,
    .tp_dealloc = (destructor)Sudog_dealloc,
    .tp_traverse = (traverseproc)Sudog_traverse,
    .tp_clear = (inquiry)Sudog_clear,
};

/* A wait queue (Go's waitq): FIFO of sudogs. */
typedef struct {
    SudogObject *first, *last;
} waitq;

static void
waitq_enqueue(waitq *q, SudogObject *sg)
{
    Py_INCREF(sg);
    sg->prev = q->last;
    sg->next = NULL;
    if (q->last == NULL)
        q->first = sg;
    else
        q->last->next = sg;
    q->last = sg;
    sg->queued = 1;
}

/* Go's waitq.dequeue: the first sudog (the queue's reference), skipping select
   sudogs whose G another waker already won (selectDone: its threading.Lock
   taken with acquire(False)).  NULL when empty; -1 in *err on an exception. */
static SudogObject *
waitq_dequeue(waitq *q, int *err)
{
    *err = 0;
    for (;;) {
        SudogObject *sg = q->first;
        if (sg == NULL)
            return NULL;
        SudogObject *nxt = sg->next;
        q->first = nxt;
        if (nxt == NULL)
            q->last = NULL;
        else
            nxt->prev = NULL;
        sg->next = sg->prev = NULL;
        sg->queued = 0;
        if (sg->case_ >= 0) {
            PyObject *done = AS_G(sg->g)->selectdone;
            PyObject *won = PyObject_CallMethodOneArg(done, str_acquire, Py_False);
            if (won == NULL) {
                Py_DECREF(sg);
                *err = -1;
                return NULL;
            }
            int ok = won == Py_True;
            Py_DECREF(won);
            if (!ok) {
                Py_DECREF(sg);
                continue;
            }
        }
        return sg;
    }
}

/* dequeueSudoG: take sg out of q if it is still there (the queue's reference
   is released by the caller). 1 if it was. */
static int
waitq_remove(waitq *q, SudogObject *sg)
{
    if (!sg->queued)
        return 0;
    SudogObject *p = sg->prev, *n = sg->next;
    if (p != NULL)
        p->next = n;
    else if (q->first == sg)
        q->first = n;
    else
        return 0;
    if (n != NULL)
        n->prev = p;
    else
        q->last = p;
    sg->next = sg->prev = NULL;
    sg->queued = 0;
    return 1;
}

/* chan.Chan: Go's hchan. */
typedef struct {
    PyObject_HEAD
    chanlock_t lock;
    atomic_int closed;
    char initialized;
    _Atomic Py_ssize_t qcount;    /* values in the buffer (read without the lock: len()) */
    Py_ssize_t dataqsiz;          /* the buffer's size, cap */
    Py_ssize_t sendx, recvx;
    PyObject **buf;
    waitq recvq, sendq;
} ChanObject;

static PyTypeObject ChanType;
#define AS_C(o) ((ChanObject *)(o))

static inline Py_ssize_t qcount_of(ChanObject *c) { return atomic_load_explicit(&c->qcount, memory_order_relaxed); }
static inline void set_qcount(ChanObject *c, Py_ssize_t n) { atomic_store_explicit(&c->qcount, n, memory_order_relaxed); }
static inline int closed_of(ChanObject *c) { return atomic_load_explicit(&c->closed, memory_order_relaxed); }

static PyObject *
Chan_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    ChanObject *c = (ChanObject *)type->tp_alloc(type, 0);
    if (c != NULL)
        atomic_init(&c->qcount, 0);
    return (PyObject *)c;
}

static int
Chan_init(ChanObject *c, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"cap", NULL};
    PyObject *capo = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Chan", kwlist, &capo))
        return -1;
    Py_ssize_t cap = 0;
    if (capo != NULL) {
        if (PyBool_Check(capo) || !PyLong_Check(capo)) {
            PyErr_Format(PyExc_TypeError, "Chan capacity must be an int, not %s", Py_TYPE(capo)->tp_name);
            return -1;
        }
        cap = PyLong_AsSsize_t(capo);
        if (cap == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "makechan: size out of range (%S)", capo);
            return -1;
        }
        if (cap < 0) {
            PyErr_Format(PyExc_ValueError, "makechan: size out of range (%zd)", cap);
            return -1;
        }
    }
    if (c->initialized) {
        PyErr_SetString(PyExc_RuntimeError, "Chan.__init__ called twice");
        return -1;
    }
    if (cap > 0) {
        c->buf = PyMem_Calloc(cap, sizeof(PyObject *));
        if (c->buf == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    c->dataqsiz = cap;
    c->initialized = 1;
    return 0;
}

static int
Chan_traverse(ChanObject *c, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < c->dataqsiz; i++)
        Py_VISIT(c->buf[i]);
    for (SudogObject *sg = c->recvq.first; sg != NULL; sg = sg->next)
        Py_VISIT((PyObject *)sg);
    for (SudogObject *sg = c->sendq.first; sg != NULL; sg = sg->next)
        Py_VISIT((PyObject *)sg);
    return 0;
}

static int
Chan_clear(ChanObject *c)
{
    for (Py_ssize_t i = 0; i < c->dataqsiz; i++)
        Py_CLEAR(c->buf[i]);
    set_qcount(c, 0);
    waitq *qs[2] = {&c->recvq, &c->sendq};
    for (int k = 0; k < 2; k++) {
        SudogObject *sg;
        while ((sg = qs[k]->first) != NULL) {
            waitq_remove(qs[k], sg);
            Py_DECREF(sg);
        }
    }
    return 0;
}

static void
Chan_dealloc(ChanObject *c)
{
    PyObject_GC_UnTrack(c);
    Chan_clear(c);
    PyMem_Free(c->buf);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

/* The ring buffer (lock held). */
static void
chan_bufput(ChanObject *c, PyObject *v /* stolen */)
{
    Py_ssize_t i = c->sendx;
    Py_XSETREF(c->buf[i], v);
    i++;
    c->sendx = i == c->dataqsiz ? 0 : i;
    set_qcount(c, qcount_of(c) + 1);
}

static PyObject *
chan_bufget(ChanObject *c)
{
    Py_ssize_t i = c->recvx;
    PyObject *v = c->buf[i];
    c->buf[i] = NULL;
    i++;
    c->recvx = i == c->dataqsiz ? 0 : i;
    set_qcount(c, qcount_of(c) - 1);
    return v != NULL ? v : Py_NewRef(Py_None);
}

/* recv(): take from the sender sg (lock held): its value, or for a full
   buffer the head, the sender's value going to the tail slot. */
static PyObject *
chan_recv_locked(ChanObject *c, SudogObject *sg)
{
    if (c->dataqsiz == 0)
        return Py_NewRef(sg->elem);
    Py_ssize_t i = c->recvx;
    PyObject *v = c->buf[i];
    c->buf[i] = Py_NewRef(sg->elem);
    i++;
    if (i == c->dataqsiz)
        i = 0;
    c->recvx = i;
    c->sendx = i;
    return v != NULL ? v : Py_NewRef(Py_None);
}

/* The wake-up of a dequeued sudog (after the channel lock is released, Go's
   rule): gp.param = sg, then goready.  Consumes the reference to sg. */
static int
chan_wake(SudogObject *sg)
{
    PyObject *gp = Py_NewRef(sg->g);
    Py_SETREF(AS_G(gp)->param, (PyObject *)sg);
    int r = ready_c(gp, NULL);
    Py_DECREF(gp);
    return r;
}

static void
raise_closed(const char *msg)
{
    PyErr_SetString(cfg.ClosedChannelError, msg);
}

/* ---- the operations' awaitable */

enum { CHAN_SEND = 0, CHAN_RECV = 1, CHAN_RECV_OK = 2, CHAN_RECV_ITER = 3 };

/* The awaitable of ch.send(v), ch.recv(), ch.recv_ok() and `async for`: the
   Python twins' generators, as one small object.  When it parks, it is its
   own sudog (in the channel's queue) and the token it yields to the M, which
   releases the channel lock once the G is parked (chanparkcommit). */
typedef struct {
    SudogObject sg;               /* sg.c: the channel; sg.elem: the value (sent, received, or the result) */
    char op, state;
    PyObject *origin;             /* (file, line) with the await check on */
} ChanOpObject;

static PyObject *
chanop_make(ChanObject *c, int op, PyObject *v)
{
    ChanOpObject *o = PyObject_GC_New(ChanOpObject, &ChanOpType);
    if (o == NULL)
        return NULL;
    Sudog_init_fields(&o->sg, Py_None, v, (PyObject *)c, -1);
    o->op = (char)op;
    o->state = OP_NEW;
    o->origin = origin_here();
    PyObject_GC_Track(o);
    return (PyObject *)o;
}

/* The operation completed without parking: return value, after the
   preemption check (proc.preempt_point).  Consumes value. */
static PySendResult
chanop_done(ChanOpObject *o, PyObject *value, PyObject **result)
{
    if (preempt_requested()) {
        MObject *m = current_m();
        if (m != NULL && Py_IS_TYPE(m->curg, &GType) && atomic_load(&AS_G(m->curg)->preempt)) {
            Py_SETREF(o->sg.elem, value);     /* returned when the G runs again */
            o->state = OP_YIELDED;
            *result = Py_NewRef(cfg.YIELD);
            return PYGEN_NEXT;
        }
    }
    *result = value;
    return PYGEN_RETURN;
}

/* What a receive returns: v for recv and `async for`, (v, ok) for recv_ok. */
static PyObject *
recv_result(ChanOpObject *o, PyObject *v /* stolen */, int ok)
{
    if (o->op != CHAN_RECV_OK)
        return v;
    PyObject *r = PyTuple_Pack(2, v, ok ? Py_True : Py_False);
    Py_DECREF(v);
    return r;
}

/* Park: o becomes the waiting sudog of the running G in q; the lock stays held
   until the M's chanparkcommit. */
static PySendResult
chanop_park(ChanOpObject *o, ChanObject *c, waitq *q, PyObject *reason, const char *what,
            PyObject **result)
{
    MObject *m = current_m();
    if (m == NULL || !Py_IS_TYPE(m->curg, &GType)) {
        chan_unlock(&c->lock);
        raise_nogo(what);
        return PYGEN_ERROR;
    }
    PyObject *gp = m->curg;
    Py_SETREF(o->sg.g, Py_NewRef(gp));
    o->sg.success = 0;
    waitq_enqueue(q, &o->sg);
    Py_SETREF(AS_G(gp)->waitreason, Py_NewRef(reason));
    Py_SETREF(AS_G(gp)->param, Py_NewRef(Py_None));
    o->state = OP_PARKED;
    *result = Py_NewRef((PyObject *)o);
    return PYGEN_NEXT;
}

/* The operation yielded itself to park (its channel lock held). */
static int
chanop_parked(PyObject *op)
{
    return ((ChanOpObject *)op)->state == OP_PARKED;
}

/* chanparkcommit: the M releases the channel lock once the G is parked. */
static int
chan_parkcommit(PyObject *op)
{
    chan_unlock(&AS_C(((ChanOpObject *)op)->sg.c)->lock);
    return 0;
}

/* chansend (chan.go): hand v straight to a waiting receiver, else the
   buffer, else park on sendq. */
static PySendResult
chansend(ChanOpObject *o, PyObject **result)
{
    ChanObject *c = AS_C(o->sg.c);
    chan_lock(&c->lock);
    if (closed_of(c)) {
        chan_unlock(&c->lock);
        raise_closed("send on closed channel");
        return PYGEN_ERROR;
    }
    if (c->recvq.first != NULL) {
        int err;
        SudogObject *sg = waitq_dequeue(&c->recvq, &err);
        if (err) {
            chan_unlock(&c->lock);
            return PYGEN_ERROR;
        }
        if (sg != NULL) {
            /* a receiver waits: hand the value straight to it */
            chan_unlock(&c->lock);
            PyObject *v = o->sg.elem;
            o->sg.elem = Py_NewRef(Py_None);
            Py_SETREF(sg->elem, v);
            sg->success = 1;
            if (chan_wake(sg) < 0)
                return PYGEN_ERROR;
            return chanop_done(o, Py_NewRef(Py_None), result);
        }
    }
    if (qcount_of(c) < c->dataqsiz) {
        PyObject *v = o->sg.elem;
        o->sg.elem = Py_NewRef(Py_None);
        chan_bufput(c, v);
        chan_unlock(&c->lock);
        return chanop_done(o, Py_NewRef(Py_None), result);
    }
    return chanop_park(o, c, &c->sendq, str_chan_send, "Chan.send", result);
}

/* chanrecv (chan.go): a closed and drained channel gives the zero value;
   else take from a waiting sender, else from the buffer, else park on recvq. */
static PySendResult
chanrecv(ChanOpObject *o, PyObject **result)
{
    ChanObject *c = AS_C(o->sg.c);
    chan_lock(&c->lock);
    if (closed_of(c)) {
        if (qcount_of(c) == 0) {
            chan_unlock(&c->lock);
            if (o->op == CHAN_RECV_ITER) {
                PyErr_SetNone(PyExc_StopAsyncIteration);
                return PYGEN_ERROR;
            }
            *result = recv_result(o, Py_NewRef(Py_None), 0);
            return *result != NULL ? PYGEN_RETURN : PYGEN_ERROR;
        }
    }
    else if (c->sendq.first != NULL) {
        int err;
        SudogObject *sg = waitq_dequeue(&c->sendq, &err);
        if (err) {
            chan_unlock(&c->lock);
            return PYGEN_ERROR;
        }
        if (sg != NULL) {
            PyObject *v = chan_recv_locked(c, sg);
            chan_unlock(&c->lock);
            sg->success = 1;
            if (chan_wake(sg) < 0) {
                Py_DECREF(v);
                return PYGEN_ERROR;
            }
            PyObject *r = recv_result(o, v, 1);
            return r != NULL ? chanop_done(o, r, result) : PYGEN_ERROR;
        }
    }
    if (qcount_of(c) > 0) {
        PyObject *v = chan_bufget(c);
        chan_unlock(&c->lock);
        PyObject *r = recv_result(o, v, 1);
        return r != NULL ? chanop_done(o, r, result) : PYGEN_ERROR;
    }
    return chanop_park(o, c, &c->recvq, str_chan_receive,
                       o->op == CHAN_RECV_OK ? "Chan.recv_ok" : "Chan.recv", result);
}

/* Woken: the waker filled in elem and success. */
static PySendResult
chanop_woken(ChanOpObject *o, PyObject **result)
{
    PyObject *v = o->sg.elem;
    o->sg.elem = Py_NewRef(Py_None);
    PyObject *gp = o->sg.g;
    o->sg.g = Py_NewRef(Py_None);
    if (Py_IS_TYPE(gp, &GType) && AS_G(gp)->param == (PyObject *)o)
        Py_SETREF(AS_G(gp)->param, Py_NewRef(Py_None));   /* no cycle G -> op -> G */
    Py_DECREF(gp);
    int ok = o->sg.success;
    switch (o->op) {
    case CHAN_SEND:
        Py_DECREF(v);
        if (!ok) {
            raise_closed("send on closed channel");
            return PYGEN_ERROR;
        }
        *result = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    case CHAN_RECV_ITER:
        if (!ok) {
            Py_DECREF(v);
            PyErr_SetNone(PyExc_StopAsyncIteration);
            return PYGEN_ERROR;
        }
        *result = v;
        return PYGEN_RETURN;
    default:
        *result = recv_result(o, v, ok);
        return *result != NULL ? PYGEN_RETURN : PYGEN_ERROR;
    }
}

static PySendResult
chanop_step(PyObject *self, PyObject *arg, PyObject **result)
{
    ChanOpObject *o = (ChanOpObject *)self;
    *result = NULL;
    switch (o->state) {
    case OP_NEW:
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started generator");
            return PYGEN_ERROR;
        }
        o->state = OP_DONE;
        return o->op == CHAN_SEND ? chansend(o, result) : chanrecv(o, result);
    case OP_PARKED:
        o->state = OP_DONE;
        return chanop_woken(o, result);
    case OP_YIELDED:                      /* resumed after the preemption yield */
        o->state = OP_DONE;
        *result = o->sg.elem;
        o->sg.elem = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    default:
        *result = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    }
}

static const char *
chanop_name(ChanOpObject *o)
{
    switch (o->op) {
    case CHAN_SEND: return "Chan.send";
    case CHAN_RECV_OK: return "Chan.recv_ok";
    default: return "Chan.recv";
    }
}

static void
ChanOp_finalize(ChanOpObject *o)
{
    if (o->state == OP_NEW) {
        o->state = OP_DONE;
        warn_unawaited((PyObject *)o, chanop_name(o), o->origin);
    }
}

static void
ChanOp_dealloc(ChanOpObject *o)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)o) < 0)
        return;                           /* resurrected */
    PyObject_GC_UnTrack(o);
    Sudog_clear(&o->sg);
    Py_CLEAR(o->origin);
    PyObject_GC_Del(o);
}

static int
ChanOp_traverse(ChanOpObject *o, visitproc visit, void *arg)
{
    Py_VISIT(o->origin);
    return Sudog_traverse(&o->sg, visit, arg);
}

static int
ChanOp_clear(ChanOpObject *o)
{
    Py_CLEAR(o->origin);
    return Sudog_clear(&o->sg);
}

static PyObject *ChanOp_send(PyObject *self, PyObject *arg) { return aw_send(self, arg, chanop_step); }
static PyObject *ChanOp_next(PyObject *self) { return aw_next(self, chanop_step); }

static PyObject *
ChanOp_throw(ChanOpObject *o, PyObject *const *args, Py_ssize_t nargs)
{
    o->state = OP_DONE;
    return aw_throw(args, nargs);
}

static PyObject *
ChanOp_close(ChanOpObject *o, PyObject *unused)
{
    o->state = OP_DONE;
    Py_RETURN_NONE;
}

/* Calling the token is the park's unlock callback (for proc.ForeignAwait,
   which drives a goroutine from Python): release the channel, stay parked. */
static PyObject *
ChanOp_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    if (((ChanOpObject *)self)->state != OP_PARKED) {
        PyErr_SetString(PyExc_RuntimeError, "chanparkcommit: the operation is not parked");
        return NULL;
    }
    chan_parkcommit(self);
    Py_RETURN_TRUE;
}

static PyObject *
ChanOp_repr(ChanOpObject *o)
{
    return PyUnicode_FromFormat("<gort awaitable %s()>", chanop_name(o));
}

static PyMethodDef ChanOp_methods[] = {
    {"send", (PyCFunction)ChanOp_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))ChanOp_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)ChanOp_close, METH_NOARGS, NULL},
    {NULL},
};

static PyAsyncMethods ChanOp_async = {
    .am_await = aw_self,
    .am_send = chanop_step,
};

static PyTypeObject ChanOpType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort._accel.ChanOp",
    .tp_doc = "The awaitable of a channel send or receive (and its sudog while it waits).",
    .tp_basicsize = sizeof(ChanOpObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_dealloc = (destructor)ChanOp_dealloc,
    .tp_finalize = (destructor)ChanOp_finalize,
    .tp_traverse = (traverseproc)ChanOp_traverse,
    .tp_clear = (inquiry)ChanOp_clear,
    .tp_repr = (reprfunc)ChanOp_repr,
    .tp_call = ChanOp_call,
    .tp_as_async = &ChanOp_async,
    .tp_iter = aw_self,
    .tp_iternext = ChanOp_next,
    .tp_methods = ChanOp_methods,
};

/* ---- Chan's public methods (bound through CMethod: see below) */

static PyObject *
Chan_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return chanop_make(AS_C(self), CHAN_SEND, args[0]);
}

static PyObject *
Chan_recv(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return chanop_make(AS_C(self), CHAN_RECV, Py_None);
}

static PyObject *
Chan_recv_ok(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return chanop_make(AS_C(self), CHAN_RECV_OK, Py_None);
}

static PyObject *
Chan_anext(PyObject *self)
{
    return chanop_make(AS_C(self), CHAN_RECV_ITER, Py_None);
}

/* try_send(v): non-blocking send (Go's `select { case c <- v: default: }`). */
static PyObject *
Chan_try_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    ChanObject *c = AS_C(self);
    PyObject *v = args[0];
    chan_lock(&c->lock);
    if (closed_of(c)) {
        chan_unlock(&c->lock);
        raise_closed("send on closed channel");
        return NULL;
    }
    int err;
    SudogObject *sg = waitq_dequeue(&c->recvq, &err);
    if (err) {
        chan_unlock(&c->lock);
        return NULL;
    }
    if (sg != NULL) {
        chan_unlock(&c->lock);
        Py_SETREF(sg->elem, Py_NewRef(v));
        sg->success = 1;
        if (chan_wake(sg) < 0)
            return NULL;
        Py_RETURN_TRUE;
    }
    if (qcount_of(c) < c->dataqsiz) {
        chan_bufput(c, Py_NewRef(v));
        chan_unlock(&c->lock);
        Py_RETURN_TRUE;
    }
    chan_unlock(&c->lock);
    Py_RETURN_FALSE;
}

/* try_recv() -> (value, ok, selected): non-blocking receive. */
static PyObject *
Chan_try_recv(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    ChanObject *c = AS_C(self);
    chan_lock(&c->lock);
    int closed = closed_of(c);
    if (closed && qcount_of(c) == 0) {
        chan_unlock(&c->lock);
        return Py_BuildValue("(OOO)", Py_None, Py_False, Py_True);
    }
    if (!closed) {
        int err;
        SudogObject *sg = waitq_dequeue(&c->sendq, &err);
        if (err) {
            chan_unlock(&c->lock);
            return NULL;
        }
        if (sg != NULL) {
            PyObject *v = chan_recv_locked(c, sg);
            chan_unlock(&c->lock);
            sg->success = 1;
            if (chan_wake(sg) < 0) {
                Py_DECREF(v);
                return NULL;
            }
            PyObject *r = PyTuple_Pack(3, v, Py_True, Py_True);
            Py_DECREF(v);
            return r;
        }
    }
    if (qcount_of(c) > 0) {
        PyObject *v = chan_bufget(c);
        chan_unlock(&c->lock);
        PyObject *r = PyTuple_Pack(3, v, Py_True, Py_True);
        Py_DECREF(v);
        return r;
    }
    chan_unlock(&c->lock);
    return Py_BuildValue("(OOO)", Py_None, Py_False, Py_False);
}

/* close(): receivers drain the buffer then get (None, False); blocked senders raise. */
static PyObject *
Chan_close(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    ChanObject *c = AS_C(self);
    chan_lock(&c->lock);
    if (closed_of(c)) {
        chan_unlock(&c->lock);
        raise_closed("close of closed channel");
        return NULL;
    }
    atomic_store(&c->closed, 1);
    SudogObject *woken = NULL, **tail = &woken;   /* chained through next: they are out of the queues */
    waitq *qs[2] = {&c->recvq, &c->sendq};
    int err = 0;
    for (int k = 0; k < 2 && !err; k++) {
        for (;;) {
            SudogObject *sg = waitq_dequeue(qs[k], &err);
            if (sg == NULL)
                break;
            if (k == 0)
                Py_SETREF(sg->elem, Py_NewRef(Py_None));
            sg->success = 0;
            *tail = sg;
            tail = &sg->next;
        }
    }
    chan_unlock(&c->lock);
    /* wake-ups after the lock (Go's rule) */
    while (woken != NULL) {
        SudogObject *sg = woken;
        woken = sg->next;
        sg->next = NULL;
        if (!err && chan_wake(sg) < 0)
            err = 1;
        else if (err)
            Py_DECREF(sg);
    }
    if (err)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- internals used by select.py and time.py (the channel lock held) */

static PyObject *
Chan_dequeue(ChanObject *c, waitq *q)
{
    int err;
    SudogObject *sg = waitq_dequeue(q, &err);
    if (err)
        return NULL;
    return sg != NULL ? (PyObject *)sg : Py_NewRef(Py_None);
}

static PyObject *Chan_dequeue_recv(ChanObject *c, PyObject *u) { return Chan_dequeue(c, &c->recvq); }
static PyObject *Chan_dequeue_send(ChanObject *c, PyObject *u) { return Chan_dequeue(c, &c->sendq); }

static int
check_sudog(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &SudogType) && !Py_IS_TYPE(o, &SelSudogType) && !Py_IS_TYPE(o, &ChanOpType)) {
        PyErr_Format(PyExc_TypeError, "expected a sudog, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *
Chan_enqueue(ChanObject *c, waitq *q, PyObject *sg)
{
    if (check_sudog(sg) < 0)
        return NULL;
    if (((SudogObject *)sg)->queued) {
        PyErr_SetString(PyExc_RuntimeError, "sudog already queued");
        return NULL;
    }
    waitq_enqueue(q, (SudogObject *)sg);
    Py_RETURN_NONE;
}

static PyObject *Chan_enqueue_recv(ChanObject *c, PyObject *sg) { return Chan_enqueue(c, &c->recvq, sg); }
static PyObject *Chan_enqueue_send(ChanObject *c, PyObject *sg) { return Chan_enqueue(c, &c->sendq, sg); }

/* _remove(sg, recv): take a select's losing sudog out of its queue, if still there. */
static PyObject *
Chan_remove(ChanObject *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_remove(sg, recv)");
        return NULL;
    }
    if (check_sudog(args[0]) < 0)
        return NULL;
    int recv = PyObject_IsTrue(args[1]);
    if (recv < 0)
        return NULL;
    if (waitq_remove(recv ? &c->recvq : &c->sendq, (SudogObject *)args[0]))
        Py_DECREF(args[0]);                 /* the queue's reference */
    Py_RETURN_NONE;
}

static PyObject *
Chan_recv_locked_meth(ChanObject *c, PyObject *sg)
{
    if (check_sudog(sg) < 0)
        return NULL;
    return chan_recv_locked(c, (SudogObject *)sg);
}

static PyObject *
Chan_bufget_meth(ChanObject *c, PyObject *u)
{
    if (qcount_of(c) == 0) {
        PyErr_SetString(PyExc_RuntimeError, "_bufget: the buffer is empty");
        return NULL;
    }
    return chan_bufget(c);
}

static PyObject *
Chan_bufput_meth(ChanObject *c, PyObject *v)
{
    if (qcount_of(c) >= c->dataqsiz) {
        PyErr_SetString(PyExc_RuntimeError, "_bufput: the buffer is full");
        return NULL;
    }
    chan_bufput(c, Py_NewRef(v));
    Py_RETURN_NONE;
}

/* `_lock`: the channel's lock for Python code (select, timer channels), as an
   object with acquire() and release() (a threading.Lock's API). */
typedef struct {
    PyObject_HEAD
    PyObject *c;
} ChanLockObject;

static PyTypeObject ChanLockType;

static PyObject *
ChanLock_acquire(ChanLockObject *l, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    double timeout = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pd:acquire", kwlist, &blocking, &timeout))
        return NULL;
    if (timeout != -1) {
        PyErr_SetString(PyExc_ValueError, "a channel lock takes no timeout");
        return NULL;
    }
    ChanObject *c = AS_C(l->c);
    if (blocking) {
        chan_lock(&c->lock);
        Py_RETURN_TRUE;
    }
    return PyBool_FromLong(chan_trylock(&c->lock));
}

static PyObject *
ChanLock_release(ChanLockObject *l, PyObject *u)
{
    ChanObject *c = AS_C(l->c);
    if (!chan_locked(&c->lock)) {
        PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
        return NULL;
    }
    chan_unlock(&c->lock);
    Py_RETURN_NONE;
}

static PyObject *
ChanLock_locked(ChanLockObject *l, PyObject *u)
{
    return PyBool_FromLong(chan_locked(&AS_C(l->c)->lock));
}

static void
ChanLock_dealloc(ChanLockObject *l)
{
    Py_XDECREF(l->c);
    PyObject_Free(l);
}

static PyMethodDef ChanLock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))ChanLock_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(blocking=True) -> bool"},
    {"release", (PyCFunction)ChanLock_release, METH_NOARGS, "release()"},
    {"locked", (PyCFunction)ChanLock_locked, METH_NOARGS, "locked() -> bool"},
    {NULL},
};

static PyTypeObject ChanLockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort._accel.ChanLock",
    .tp_doc = "A channel's lock, for select and timer channels.",
    .tp_basicsize = sizeof(ChanLockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_dealloc = (destructor)ChanLock_dealloc,
    .tp_methods = ChanLock_methods,
};

static PyObject *
Chan_get_lock(ChanObject *c, void *u)
{
    ChanLockObject *l = PyObject_New(ChanLockObject, &ChanLockType);
    if (l != NULL)
        l->c = Py_NewRef((PyObject *)c);
    return (PyObject *)l;
}

static PyObject *Chan_get_cap(ChanObject *c, void *u) { return PyLong_FromSsize_t(c->dataqsiz); }
static PyObject *Chan_get_qcount(ChanObject *c, void *u) { return PyLong_FromSsize_t(qcount_of(c)); }
static PyObject *Chan_get_closed(ChanObject *c, void *u) { return PyBool_FromLong(closed_of(c)); }
static Py_ssize_t Chan_len(ChanObject *c) { return qcount_of(c); }

static PyObject *
Chan_repr(ChanObject *c)
{
    return PyUnicode_FromFormat("<Chan cap=%zd len=%zd%s>", c->dataqsiz, qcount_of(c),
                                closed_of(c) ? " closed" : "");
}

static PyGetSetDef Chan_getset[] = {
    {"cap", (getter)Chan_get_cap, NULL,
     "The buffer size given to Chan(cap) (Go's cap(ch)); 0 for an unbuffered channel.", NULL},
    {"_lock", (getter)Chan_get_lock, NULL, NULL, NULL},
    {"_qcount", (getter)Chan_get_qcount, NULL, NULL, NULL},
    {"_closed", (getter)Chan_get_closed, NULL, NULL, NULL},
    {NULL},
};

static PyMemberDef Chan_members[] = {
    {"_dataqsiz", Py_T_PYSSIZET, offsetof(ChanObject, dataqsiz), Py_READONLY, NULL},
    {NULL},
};

static PyMethodDef Chan_methods[] = {
    {"_dequeue_recv", (PyCFunction)Chan_dequeue_recv, METH_NOARGS, NULL},
    {"_dequeue_send", (PyCFunction)Chan_dequeue_send, METH_NOARGS, NULL},
    {"_enqueue_recv", (PyCFunction)Chan_enqueue_recv, METH_O, NULL},
    {"_enqueue_send", (PyCFunction)Chan_enqueue_send, METH_O, NULL},
    {"_remove", (PyCFunction)(void (*)(void))Chan_remove, METH_FASTCALL, NULL},
    {"_recv_locked", (PyCFunction)Chan_recv_locked_meth, METH_O, NULL},
    {"_bufget", (PyCFunction)Chan_bufget_meth, METH_NOARGS, NULL},
    {"_bufput", (PyCFunction)Chan_bufput_meth, METH_O, NULL},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "Chan[T]: a channel of T (for type checkers)."},
    {NULL},
};

static PyAsyncMethods Chan_async = {
    .am_aiter = aw_self,
    .am_anext = Chan_anext,
};

static PySequenceMethods Chan_as_sequence = {
    .sq_length = (lenfunc)Chan_len,
};

static PyTypeObject ChanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort.chan.Chan",
    .tp_doc = "Chan(cap=0)\n--\n\nA Go channel.  `Chan(0)` is unbuffered; `Chan(n)` buffers n values.",
    .tp_basicsize = sizeof(ChanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_new = Chan_new,
    .tp_init = (initproc)Chan_init,
    .tp_dealloc = (destructor)Chan_dealloc,
    .tp_traverse = (traverseproc)Chan_traverse,
    .tp_clear = (inquiry)Chan_clear,
    .tp_repr = (reprfunc)Chan_repr,
    .tp_as_async = &Chan_async,
    .tp_as_sequence = &Chan_as_sequence,
    .tp_getset = Chan_getset,
    .tp_members = Chan_members,
    .tp_methods = Chan_methods,
};

/* ---- CMethod: Chan's public methods */

/* A method descriptor, as CPython's own, with the Python twin's message for
   a wrong receiver (`Chan.close: int 5 is not a gort.Chan`) and keyword
   arguments by the parameter's name.  Called through the method-call fast
   path (Py_TPFLAGS_METHOD_DESCRIPTOR): obj.meth(...) passes obj first. */
typedef PyObject *(*cmethfunc)(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

typedef struct {
    const char *name;
    cmethfunc meth;
    const char *param;            /* the one parameter's name, or NULL: no parameter */
    const char *doc;
    const char *sig;              /* __text_signature__ */
    PyMethodDef def;              /* for bound methods (obj.meth without a call) */
    char bounddoc[512];           /* "name($self, ...)\n--\n\ndoc": the bound method's signature and doc */
} CMethodDef;

typedef struct {
    PyObject_HEAD
    CMethodDef *d;
    PyTypeObject *type;
    vectorcallfunc vectorcall;
} CMethodObject;

static PyTypeObject CMethodType;

static PyObject *
cmethod_invoke(CMethodDef *d, PyTypeObject *type, PyObject *self, PyObject *const *args,
               Py_ssize_t nargs, PyObject *kwnames)
{
    if (!PyObject_TypeCheck(self, type)) {
        PyErr_Format(PyExc_TypeError, "Chan.%s: %s %R is not a gort.Chan", d->name,
                     Py_TYPE(self)->tp_name, self);
        return NULL;
    }
    int want = d->param != NULL;
    PyObject *arg = nargs > 0 ? args[0] : NULL;
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > want || nargs + nkw > want) {
        PyErr_Format(PyExc_TypeError, "Chan.%s() takes %d positional argument%s but %zd were given",
                     d->name, want + 1, want ? "s" : "", nargs + nkw + 1);
        return NULL;
    }
    if (nkw == 1) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0))
                || PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), d->param) != 0) {
            PyErr_Format(PyExc_TypeError, "Chan.%s() got an unexpected keyword argument %R",
                         d->name, PyTuple_GET_ITEM(kwnames, 0));
            return NULL;
        }
        arg = args[nargs];
    }
    if (want && arg == NULL) {
        PyErr_Format(PyExc_TypeError, "Chan.%s() missing 1 required positional argument: '%s'",
                     d->name, d->param);
        return NULL;
    }
    return d->meth(self, &arg, want);
}

static PyObject *
CMethod_vectorcall(CMethodObject *m, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "unbound method Chan.%s() needs an argument", m->d->name);
        return NULL;
    }
    return cmethod_invoke(m->d, m->type, args[0], args + 1, nargs - 1, kwnames);
}

/* the bound method's body (obj.meth): METH_FASTCALL | METH_KEYWORDS with self */
#define CMETHOD_BOUND(NAME, INDEX) \
    static PyObject *NAME(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) \
    { return cmethod_invoke(&chan_cmethods[INDEX], &ChanType, self, args, nargs, kwnames); }

static CMethodDef chan_cmethods[];
CMETHOD_BOUND(bound_send, 0)
CMETHOD_BOUND(bound_recv, 1)
CMETHOD_BOUND(bound_recv_ok, 2)
CMETHOD_BOUND(bound_try_send, 3)
CMETHOD_BOUND(bound_try_recv, 4)
CMETHOD_BOUND(bound_close, 5)
#undef CMETHOD_BOUND

#define BOUND_DEF(NAME, FN) {NAME, (PyCFunction)(void (*)(void))FN, METH_FASTCALL | METH_KEYWORDS, NULL}
static CMethodDef chan_cmethods[] = {
    {"send", Chan_send, "v", "Send v; block until a receiver takes it or there is buffer space.",
     "(self, v)", BOUND_DEF("send", bound_send)},
    {"recv", Chan_recv, NULL,
     "`v = await ch.recv()`: the next value; None once the channel is closed\n"
     "and drained (Go's zero value; `recv_ok` tells the two apart).  Blocks\n"
     "until a sender or the buffer has a value.", "(self)", BOUND_DEF("recv", bound_recv)},
    {"recv_ok", Chan_recv_ok, NULL,
     "`v, ok = await ch.recv_ok()`: (value, True), or (None, False) once closed and drained.",
     "(self)", BOUND_DEF("recv_ok", bound_recv_ok)},
    {"try_send", Chan_try_send, "v",
     "Non-blocking send (Go's `select { case c <- v: default: }`): True if sent.",
     "(self, v)", BOUND_DEF("try_send", bound_try_send)},
    {"try_recv", Chan_try_recv, NULL,
     "Non-blocking receive: (value, ok, selected).  selected is False if it would block.",
     "(self)", BOUND_DEF("try_recv", bound_try_recv)},
    {"close", Chan_close, NULL,
     "Close: receivers drain the buffer then get (None, False); blocked senders raise.",
     "(self)", BOUND_DEF("close", bound_close)},
    {NULL},
};
#undef BOUND_DEF

static PyObject *
CMethod_get(CMethodObject *m, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None)
        return Py_NewRef((PyObject *)m);
    return PyCFunction_NewEx(&m->d->def, obj, NULL);
}

static void
CMethod_dealloc(CMethodObject *m)
{
    PyObject_Free(m);
}

static PyObject *CMethod_get_name(CMethodObject *m, void *u) { return PyUnicode_FromString(m->d->name); }
static PyObject *CMethod_get_qualname(CMethodObject *m, void *u) { return PyUnicode_FromFormat("Chan.%s", m->d->name); }
static PyObject *CMethod_get_doc(CMethodObject *m, void *u) { return PyUnicode_FromString(m->d->doc); }
static PyObject *CMethod_get_sig(CMethodObject *m, void *u) { return PyUnicode_FromString(m->d->sig); }
static PyObject *CMethod_get_objclass(CMethodObject *m, void *u) { return Py_NewRef((PyObject *)m->type); }

static PyObject *
CMethod_repr(CMethodObject *m)
{
    return PyUnicode_FromFormat("<method '%s' of 'gort.Chan' objects>", m->d->name);
}

static PyGetSetDef CMethod_getset[] = {
    {"__name__", (getter)CMethod_get_name, NULL, NULL, NULL},
    {"__qualname__", (getter)CMethod_get_qualname, NULL, NULL, NULL},
    {"__doc__", (getter)CMethod_get_doc, NULL, NULL, NULL},
    {"__text_signature__", (getter)CMethod_get_sig, NULL, NULL, NULL},
    {"__objclass__", (getter)CMethod_get_objclass, NULL, NULL, NULL},
    {NULL},
};

static PyTypeObject CMethodType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gort._accel.CMethod",
    .tp_basicsize = sizeof(CMethodObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_METHOD_DESCRIPTOR | Py_TPFLAGS_HAVE_VECTORCALL
                | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_vectorcall_offset = offsetof(CMethodObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_descr_get = (descrgetfunc)CMethod_get,
    .tp_dealloc = (destructor)CMethod_dealloc,
    .tp_repr = (reprfunc)CMethod_repr,
    .tp_getset = CMethod_getset,
};

/* Put Chan's CMethods in its dict (before PyType_Ready, which keeps them). */
static int
chan_add_cmethods(void)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL)
        return -1;
    for (CMethodDef *d = chan_cmethods; d->name != NULL; d++) {
        CMethodObject *m = PyObject_New(CMethodObject, &CMethodType);
        if (m == NULL) {
            Py_DECREF(dict);
            return -1;
        }
        m->d = d;
        m->type = &ChanType;
        m->vectorcall = (vectorcallfunc)CMethod_vectorcall;
        /* the bound method: "(self, v)" -> "send($self, v)\n--\n\n" + doc */
        PyOS_snprintf(d->bounddoc, sizeof d->bounddoc, "%s($%s\n--\n\n%s", d->name, d->sig + 1, d->doc);
        d->def.ml_doc = d->bounddoc;
        int r = PyDict_SetItemString(dict, d->name, (PyObject *)m);
        Py_DECREF(m);
        if (r < 0) {
            Py_DECREF(dict);
            return -1;
        }
    }
    ChanType.tp_dict = dict;
    return 0;
}

/* is_op(fn): fn makes a C gort operation (ch.send, ch.recv, ch.recv_ok,
   gort.gosched): an awaitable, for proc.is_async. */
static PyObject *
is_op(PyObject *mod, PyObject *fn)
{
    if (PyCFunction_Check(fn)) {
        PyCFunction f = PyCFunction_GET_FUNCTION(fn);
        if (f == (PyCFunction)(void (*)(void))bound_send || f == (PyCFunction)(void (*)(void))bound_recv
                || f == (PyCFunction)(void (*)(void))bound_recv_ok || f == (PyCFunction)gosched
                || f == (PyCFunction)sleep_)
            Py_RETURN_TRUE;
    }
    if (Py_IS_TYPE(fn, &CMethodType)) {
        cmethfunc f = ((CMethodObject *)fn)->d->meth;
        if (f == Chan_send || f == Chan_recv || f == Chan_recv_ok)
            Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}


/* ================================================================ the module */

static PyMethodDef module_methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "configure(**names): the Python objects the C twins call back into."},
    {"set_m", (PyCFunction)set_m, METH_O, "set_m(m or None): the calling thread's M (proc.mstart)."},
    {"runqput", (PyCFunction)(void (*)(void))runqput, METH_FASTCALL,
     "runqput(pp, gp, next) -> None, or the overflow batch (half the ring + 1) for the global queue."},
    {"runqget", (PyCFunction)runqget, METH_O, "runqget(pp) -> (gp or None, inherit)."},
    {"runqgrab", (PyCFunction)(void (*)(void))runqgrab, METH_FASTCALL,
     "runqgrab(pp, steal_runnext) -> half of pp's queue (rounded up); its runnext only if allowed and "
     "the queue is empty."},
    {"runqsteal", (PyCFunction)(void (*)(void))runqsteal, METH_FASTCALL,
     "runqsteal(pp, p2, steal_runnext) -> a G to run, or None; the rest go to pp's queue."},
    {"runqdrain", (PyCFunction)runqdrain, METH_O, "runqdrain(pp) -> every G of pp, runnext first."},
    {"runqlist", (PyCFunction)runqlist, METH_O, "runqlist(pp) -> the Gs in pp's queue (a snapshot)."},
    {"runnextg", (PyCFunction)runnextg, METH_O, "runnextg(pp) -> pp's runnext G or None (a snapshot)."},
    {"runqput_or_spill", (PyCFunction)(void (*)(void))runqput_or_spill, METH_FASTCALL,
     "runqput_or_spill(s, pp, gp, next): runqput, the overflow to the global queue."},
    {"schedule", (PyCFunction)schedule, METH_O, "schedule(m): the M's scheduler loop (proc.schedule)."},
    {"ready", (PyCFunction)(void (*)(void))ready, METH_FASTCALL,
     "ready(gp, s=None): make a parked G runnable in the caller's P's runnext, then wakep."},
    {"newproc", (PyCFunction)(void (*)(void))newproc, METH_FASTCALL,
     "newproc(coro, m, s=None) -> G: a new G in the current P's runnext."},
    {"go", (PyCFunction)(void (*)(void))go, METH_FASTCALL | METH_KEYWORDS,
     "go(fn, *args, **kwargs)\n--\n\n"
     "Start `fn(*args, **kwargs)` as a new goroutine (Go's `go` statement).\n\n"
     "The new G goes to the current P's runnext.  `fn` is an async function, or\n"
     "any function returning a gort awaitable (`gort.go(ch.send, v)`,\n"
     "`gort.go(wg.wait)`, `gort.go(gort.sleep, 1)`)."},
    {"gosched", (PyCFunction)gosched, METH_NOARGS,
     "gosched()\n--\n\nYield the P: the G goes to the global queue tail (Go's Gosched)."},
    {"preempt_point", (PyCFunction)preempt_point, METH_NOARGS,
     "preempt_point(): yield to the M if the calling G has a preemption request."},
    {"park_forever", (PyCFunction)park_forever, METH_O, "park_forever(reason): block for good."},
    {"sleep", (PyCFunction)sleep_, METH_O,
     "sleep(seconds)\n--\n\nPark the goroutine for `seconds` (wait reason \"sleep\"); <= 0 just yields."},
    {"goroutine_ready", (PyCFunction)(void (*)(void))goroutine_ready, METH_FASTCALL,
     "goroutine_ready(gp, seq, delay): a sleep's timer function (ready(gp))."},
    {"is_op", (PyCFunction)is_op, METH_O, "is_op(fn): fn makes a C gort operation (an awaitable)."},
    {"set_check_await", (PyCFunction)set_check_await, METH_O,
     "set_check_await(on): operations remember where they were made (GORT_DEBUG=1, -X dev)."},
    {NULL},
};

static int
intern_strings(void)
{
#define S(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return -1
    S(str_event, "event");
    S(str_trap, "trap");
    S(str_acquire, "acquire");
    S(str_release, "release");
    S(str_empty, "");
    S(str_GoStart, "GoStart");
    S(str_GoStop, "GoStop");
    S(str_GoBlock, "GoBlock");
    S(str_GoUnblock, "GoUnblock");
    S(str_GoDestroy, "GoDestroy");
    S(str_GoCreate, "GoCreate");
    S(str_gocreate, "gocreate");
    S(str_preempted, "preempted");
    S(str_Gosched, "Gosched");
    S(str_result, "result");
    S(str_qualname, "__qualname__");
    S(str_chan_send, "chan send");
    S(str_chan_receive, "chan receive");
    S(str_sleep, "sleep");
    S(str_gort_sleep, "gort.sleep");
    S(str_modify, "modify");
    if ((int_zero = PyLong_FromLong(0)) == NULL)
        return -1;
#undef S
    return 0;
}

static int
accel_exec(PyObject *mod)
{
    if (intern_strings() < 0)
        return -1;
    struct { const char *name; PyTypeObject *type; } types[] = {
        {"G", &GType}, {"P", &PType}, {"MCore", &MCoreType}, {"SchedCore", &SchedCoreType},
        {"GQueue", &GQueueType}, {"YieldOp", &YieldOpType}, {"Sudog", &SudogType},
        {"SelSudog", &SelSudogType}, {"ChanOp", &ChanOpType}, {"ChanLock", &ChanLockType},
        {"CMethod", &CMethodType}, {"Chan", &ChanType}, {"TimersCore", &TimersCoreType},
        {"SleepOp", &SleepOpType},
        {NULL, NULL},
    };
    SelSudogType.tp_base = &SudogType;
    ChanOpType.tp_base = &SudogType;
    if (PyType_Ready(&CMethodType) < 0 || chan_add_cmethods() < 0)
        return -1;
    for (int i = 0; types[i].name != NULL; i++) {
        if (PyType_Ready(types[i].type) < 0)
            return -1;
        if (PyModule_AddObjectRef(mod, types[i].name, (PyObject *)types[i].type) < 0)
            return -1;
    }
    if (PyModule_AddIntConstant(mod, "RUNQ_SIZE", RUNQ_SIZE) < 0)
        return -1;
    /* which gort/_accel.c this was built from (setup.py passes its hash):
       accel.py refuses a build of another version of this file */
    if (PyModule_AddStringConstant(mod, "SOURCE", GORT_ACCEL_SOURCE) < 0)
        return -1;
    return 0;
}

#ifndef GORT_ACCEL_SOURCE
#define GORT_ACCEL_SOURCE ""              /* built without setup.py */
#endif

static PyModuleDef_Slot accel_slots[] = {
    {Py_mod_exec, accel_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef accel_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gort._accel",
    .m_doc = "gort's C accelerator: the C twins of the scheduler's hot paths (see gort/accel.py).",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = accel_slots,
};

PyMODINIT_FUNC
PyInit__accel(void)
{
    return PyModuleDef_Init(&accel_module);
}
