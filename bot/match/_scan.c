/* The per-hit loop of the matching engine in C: bot.match.automaton.scan_hits_python, step for step.
 *
 * At 10,000 terms the benchmark's 50 MB make 410,000 automaton hits, and in Python this loop took
 * more than half as long as the automaton's own search. The rules of the query language stay in
 * Python: a hit that needs a word check (an acronym, a phrase) is handed to the ``check`` callable.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int
fail(const char *message)
{
    PyErr_SetString(PyExc_TypeError, message);
    return -1;
}

/* Record the terms a key proves at its first hit in the chunk; 1 if the key needs no check. */
static int
first_hit(PyObject *meaning, Py_ssize_t start, PyObject *found, PyObject *scan)
{
    if (!PyTuple_Check(meaning) || PyTuple_GET_SIZE(meaning) < 4) {
        return fail("scan_hits: a key's meaning must be (infix, proven, checked, phrases)");
    }
    PyObject *proven = PyTuple_GET_ITEM(meaning, 1);
    PyObject *checked = PyTuple_GET_ITEM(meaning, 2);
    PyObject *phrases = PyTuple_GET_ITEM(meaning, 3);
    if (!PyTuple_Check(proven) || !PyTuple_Check(checked) || !PyTuple_Check(phrases)) {
        return fail("scan_hits: proven, checked and phrases must be tuples");
    }
    if (PyTuple_GET_SIZE(proven)) {
        int infix = PyObject_IsTrue(PyTuple_GET_ITEM(meaning, 0));
        if (infix < 0) {
            return -1;
        }
        Py_ssize_t at = start + 1;
        if (infix) { /* the word around ``start``: scan.rfind(" ", 0, start) + 1 */
            at = PyUnicode_FindChar(scan, ' ', 0, start, -1);
            if (at == -2) {
                return -1;
            }
            at += 1;
        }
        PyObject *position = PyLong_FromSsize_t(at);
        if (position == NULL) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(proven); i++) {
            if (PyDict_SetDefault(found, PyTuple_GET_ITEM(proven, i), position) == NULL) {
                Py_DECREF(position);
                return -1;
            }
        }
        Py_DECREF(position);
    }
    return PyTuple_GET_SIZE(checked) == 0 && PyTuple_GET_SIZE(phrases) == 0;
}

/* 1 if ``check(key, start)`` says every term of the key is found now. */
static int
checked_at(PyObject *check, PyObject *key, Py_ssize_t start)
{
    PyObject *position = PyLong_FromSsize_t(start);
    if (position == NULL) {
        return -1;
    }
    PyObject *args[2] = {key, position};
    PyObject *done = PyObject_Vectorcall(check, args, 2, NULL);
    Py_DECREF(position);
    if (done == NULL) {
        return -1;
    }
    int truth = PyObject_IsTrue(done);
    Py_DECREF(done);
    return truth;
}

static int
scan(PyObject *hits, Py_ssize_t offset, PyObject *keys, PyObject *settled, PyObject *found, PyObject *text,
     PyObject *check, PyObject *seen)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(hits); i++) {
        PyObject *hit = PyList_GET_ITEM(hits, i);
        if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) < 2) {
            return fail("scan_hits: a hit must be (key, start, end)");
        }
        PyObject *key = PyTuple_GET_ITEM(hit, 0);
        int known = PySet_Contains(settled, key);
        if (known) {
            if (known < 0) {
                return -1;
            }
            continue;
        }
        Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 1));
        if (start == -1 && PyErr_Occurred()) {
            return -1;
        }
        start += offset;
        int repeated = PySet_Contains(seen, key);
        if (repeated < 0) {
            return -1;
        }
        if (!repeated) {
            Py_ssize_t index = PyLong_AsSsize_t(key);
            if (index == -1 && PyErr_Occurred()) {
                return -1;
            }
            if (index < 0 || index >= PyTuple_GET_SIZE(keys)) {
                PyErr_SetString(PyExc_IndexError, "scan_hits: a hit's key is not one of the keys");
                return -1;
            }
            int proven_only = first_hit(PyTuple_GET_ITEM(keys, index), start, found, text);
            if (proven_only < 0 || PySet_Add(seen, key) < 0) {
                return -1;
            }
            if (proven_only) {
                if (PySet_Add(settled, key) < 0) {
                    return -1;
                }
                continue;
            }
        }
        int done = checked_at(check, key, start);
        if (done < 0 || (done && PySet_Add(settled, key) < 0)) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
scan_hits(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "scan_hits(hits, offset, keys, settled, found, scan, check)");
        return NULL;
    }
    PyObject *hits = args[0], *keys = args[2], *settled = args[3], *found = args[4], *text = args[5];
    if (!PyList_Check(hits) || !PyTuple_Check(keys) || !PySet_Check(settled) || !PyDict_Check(found) ||
        !PyUnicode_Check(text) || !PyCallable_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError, "scan_hits: expected a list, an int, a tuple, a set, a dict, a str "
                                         "and a callable");
        return NULL;
    }
    Py_ssize_t offset = PyLong_AsSsize_t(args[1]);
    if (offset == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *seen = PySet_New(NULL);
    if (seen == NULL) {
        return NULL;
    }
    int result = scan(hits, offset, keys, settled, found, text, args[6], seen);
    Py_DECREF(seen);
    if (result < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan_hits", (PyCFunction)(void (*)(void))scan_hits, METH_FASTCALL,
     "scan_hits(hits, offset, keys, settled, found, scan, check): see bot.match.automaton.scan_hits_python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_scan",
    .m_doc = "The matching engine's per-hit loop in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}
