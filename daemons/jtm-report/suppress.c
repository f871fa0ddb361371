#include "suppress.h"

#include <stdio.h>

bool jtm_supp_small(long v, int threshold) { return v > 0 && v < threshold; }

void jtm_supp_line(long total, const long *parts, size_t n, int threshold, jtm_supp *marks)
{
    long shown_sum = 0;
    for (size_t i = 0; i < n; i++) {
        marks[i] = jtm_supp_small(parts[i], threshold) ? JTM_SUPP_PRIMARY : JTM_SUPP_SHOWN;
        if (marks[i] == JTM_SUPP_SHOWN)
            shown_sum += parts[i];
    }
    if (threshold <= 1)
        return;
    for (;;) {
        long hidden = total - shown_sum;
        if (hidden <= 0 || hidden >= threshold)
            return;
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (marks[i] == JTM_SUPP_SHOWN && parts[i] > 0 && (best == n || parts[i] < parts[best]))
                best = i;
        if (best == n)
            return; /* nothing left to hide: the rest itself is below the threshold; the caller hides the total */
        marks[best] = JTM_SUPP_SECONDARY;
        shown_sum -= parts[best];
    }
}

/* A line of the table: n terms at stride step from first, and its total. */
typedef struct line {
    size_t first, step, n, total;
} line;

/* Fixes one line; returns true when it hid something. */
static bool fix_line(const long *m, jtm_supp *marks, line l, int threshold)
{
    size_t hidden = 0;
    long hidden_sum = 0;
    for (size_t k = 0; k < l.n; k++) {
        size_t i = l.first + k * l.step;
        if (marks[i] != JTM_SUPP_SHOWN) {
            hidden++;
            hidden_sum += m[i];
        }
    }
    bool total_hidden = marks[l.total] != JTM_SUPP_SHOWN;
    size_t all_hidden = hidden + (total_hidden ? 1 : 0);
    if (all_hidden == 0)
        return false;
    bool ok = all_hidden >= 2 && (total_hidden || hidden_sum == 0 || hidden_sum >= threshold);
    if (ok)
        return false;
    /* Smallest non-zero shown cell, else a zero cell, else the total. */
    size_t best = (size_t)-1;
    for (size_t k = 0; k < l.n; k++) {
        size_t i = l.first + k * l.step;
        if (marks[i] != JTM_SUPP_SHOWN || m[i] <= 0)
            continue;
        if (best == (size_t)-1 || m[i] < m[best])
            best = i;
    }
    if (best == (size_t)-1)
        for (size_t k = 0; k < l.n && best == (size_t)-1; k++) {
            size_t i = l.first + k * l.step;
            if (marks[i] == JTM_SUPP_SHOWN)
                best = i;
        }
    if (best == (size_t)-1 && !total_hidden)
        best = l.total;
    if (best == (size_t)-1)
        return false; /* everything in the line is hidden already */
    marks[best] = JTM_SUPP_SECONDARY;
    return true;
}

void jtm_supp_table(long *m, size_t rows, size_t cols, int threshold, jtm_supp *marks)
{
    size_t w = cols + 1;
    for (size_t r = 0; r <= rows; r++)
        m[r * w + cols] = 0;
    for (size_t c = 0; c <= cols; c++)
        m[rows * w + c] = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            m[r * w + cols] += m[r * w + c];
            m[rows * w + c] += m[r * w + c];
            m[rows * w + cols] += m[r * w + c];
        }
    for (size_t i = 0; i < (rows + 1) * w; i++)
        marks[i] = jtm_supp_small(m[i], threshold) ? JTM_SUPP_PRIMARY : JTM_SUPP_SHOWN;
    if (threshold <= 1)
        return;
    /* Each pass hides at least one more entry or stops, so this ends within (rows+1)*(cols+1) passes. */
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t r = 0; r <= rows; r++)
            changed |= fix_line(m, marks, (line){r * w, 1, cols, r * w + cols}, threshold);
        for (size_t c = 0; c <= cols; c++)
            changed |= fix_line(m, marks, (line){c, w, rows, rows * w + c}, threshold);
    }
}

bool jtm_supp_share_ok(long num, long den, int threshold)
{
    return !jtm_supp_small(num, threshold) && !jtm_supp_small(den, threshold) &&
           !jtm_supp_small(den - num, threshold);
}

const char *jtm_supp_format(long v, jtm_supp mark, int threshold, char out[24])
{
    if (mark == JTM_SUPP_PRIMARY)
        snprintf(out, 24, "<%d", threshold);
    else if (mark == JTM_SUPP_SECONDARY)
        snprintf(out, 24, "x");
    else
        snprintf(out, 24, "%ld", v);
    return out;
}
