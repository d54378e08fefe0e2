// The closed-form pre-copy model of docs/simulation-models.md §1 (Clark, Akoush, Liu), evaluated
// for a SimSpec so sweeps can draw its convergence boundary next to the simulator's.
//
//   round 0 sends V0 = M (guest RAM) in T0 = M / B;
//   round i sends V(i) = sum over write streams of min(D_s * T(i-1), W_s)   (the WWS floor)
//   stop when V(i) <= V_thd = B * downtime_limit: downtime = V(i) / link rate + latency + resume
//   no convergence when a round does not shrink (rho >= 1, or a working set above V_thd).
//
// B = min(link rate at t=0, max-bandwidth); each writer contributes one stream (D = its write
// rate in bytes/s, W = its region), a hot/cold writer two (hot set and the rest). Without working
// sets this is exactly V(i) = M rho^i and n = ceil(ln(V_thd / M) / ln rho).
#ifndef RAMSTREAM_SIM_SWEEP_CLOSED_FORM_H_
#define RAMSTREAM_SIM_SWEEP_CLOSED_FORM_H_

#include <cstdint>

#include "sim/spec.h"

namespace ramstream::sim {

struct ClosedFormPrediction {
  bool applicable = false;  // false for phased guests or a zero rate: no prediction
  bool converged = false;
  uint64_t rounds = 0;           // pre-copy rounds before the stop (converged) or tried
  double total_time_s = 0;       // converged only
  double downtime_s = 0;         // converged only
  double transferred_bytes = 0;  // converged only
};

// `max_bandwidth` (bytes/s, 0 = unlimited) and `downtime_limit_s` are the values the policy
// used (SimResult's), since their defaults depend on the policy.
ClosedFormPrediction PredictClosedForm(const SimSpec& spec, double max_bandwidth,
                                       double downtime_limit_s);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_SWEEP_CLOSED_FORM_H_
