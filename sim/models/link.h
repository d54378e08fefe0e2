// The migration link: a bandwidth profile over time (piecewise constant, like SimGrid's
// Profile of dated values), a one-way latency and the socket buffering between sender and
// receiver. Bytes flow as a fluid at the profile's rate, optionally capped (the sender's own
// rate limit). A sender's write returns once what it queued fits in the buffer, so a burst up
// to the buffer's size costs the sender no link time (what QEMU's source-side downtime sees
// on a loopback link).
#ifndef RAMSTREAM_SIM_MODELS_LINK_H_
#define RAMSTREAM_SIM_MODELS_LINK_H_

#include <cstddef>
#include <vector>

namespace ramstream::sim {

class Link {
 public:
  struct Step {
    double at = 0;           // seconds since the migration started
    double bytes_per_s = 0;  // 0: the link is down until the next step
  };

  // REQUIRES: steps non-empty, steps[0].at == 0, `at` strictly increasing, the last step's
  // rate > 0 (so every transfer ends).
  Link(std::vector<Step> steps, double latency_s, double buffer_bytes = 0);
  static Link Constant(double bytes_per_s, double latency_s = 0) {
    return Link({{0, bytes_per_s}}, latency_s);
  }

  double RateAt(double t) const;
  // Seconds needed to push `bytes` starting at t, at min(rate, cap) (cap <= 0: no cap).
  double TransferTime(double t, double bytes, double cap = 0) const;
  // Bytes that can be pushed in [t, t + dt) at min(rate, cap).
  double Capacity(double t, double dt, double cap = 0) const;
  double latency() const { return latency_; }
  double buffer() const { return buffer_; }
  const std::vector<Step>& steps() const { return steps_; }

 private:
  size_t StepAt(double t) const;

  std::vector<Step> steps_;
  double latency_;
  double buffer_;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_LINK_H_
