// The simulation engine: simulated clock, guest RAM and its write model, the link, the sender
// and the byte counters. A migration policy (sim/policies/) drives it through the pre-copy
// stages:
//
//   Stage 1  Setup()                 stream header, MEM_SIZE, every page dirty, first sync
//   Stage 2  SendPages() SyncDirtyLog() IdleUntil() SetThrottle() CloseWindow() ...
//            as the policy decides (rate windows, sync cadence, switch-over test)
//   Stage 3  StopAndCopy()           VM stopped, last sync, everything left, device state
//   or       StartPostcopy()         VM stopped, discard commands, device state in a package;
//            SendPages() IdleUntil() the guest runs on the destination, its accesses to pages
//            ...  CompletePostcopy() not yet received fault and are requested first
//
// The engine knows nothing about QEMU versions. Time is simulated (no wall clock) and every
// random draw comes from the scenario's seed, so a run is deterministic.
#ifndef RAMSTREAM_SIM_ENGINE_ENGINE_H_
#define RAMSTREAM_SIM_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/engine/accounting.h"
#include "sim/engine/ram_state.h"
#include "sim/engine/sender.h"
#include "sim/engine/stream_layout.h"
#include "sim/models/link.h"
#include "sim/models/write_model.h"
#include "sim/result.h"

namespace ramstream::sim {

struct EngineOptions {
  double timeout_s = 3600;
  uint64_t max_dirty_syncs = 0;  // 0: none
  uint64_t max_transferred = 0;  // 0: none
  double setup_time_s = 0;
  double resume_time_s = 0;
  uint64_t device_state_bytes = 0;
  // The sender's own time per page record (bitmap walk, zero check, copy), 0: none.
  double page_cost_s = 0;
  // XBZRLE page cache (PageSender::EnableXbzrle); 0 bytes: off.
  uint64_t xbzrle_cache_bytes = 0;
  uint64_t xbzrle_encoded_bytes = 3;
  // The postcopy-ram capability: OPEN_RETURN_PATH and POSTCOPY_ADVISE at setup.
  bool postcopy_ram = false;
  // QEMU 7.2's multifd capability: this many channels (0: off). PageSender::EnableMultifd.
  uint32_t multifd_channels = 0;
  // When the channels are connected (from the start of the migration): the first multifd sync
  // waits until then.
  double multifd_connect_time_s = 0;
  bool record_series = true;
};

// What a postcopy switch writes besides device state (docs ram-stream-format.md section 2.4):
// a QEMU_VM_COMMAND is type, be16 command, be16 length, payload.
inline constexpr uint64_t kCommandHeaderBytes = 1 + 2 + 2;
inline constexpr uint64_t kPingBytes = kCommandHeaderBytes + 4;
inline constexpr uint64_t kPostcopyAdviseBytes = kCommandHeaderBytes + 16;
// POSTCOPY_RAM_DISCARD: version, name length, name, NUL, then be64 start and length per range,
// at most 12 ranges per command (MAX_DISCARDS_PER_COMMAND).
inline constexpr uint64_t kDiscardRangesPerCommand = 12;
// Postcopy: the length of the time slices in which the destination guest's page accesses are
// applied and its faults served (sim/README.md, "Postcopy").
inline constexpr double kPostcopyFaultSlice = 0.002;

class Engine {
 public:
  // `observer` may be null; it must outlive the engine.
  Engine(EngineOptions options, std::unique_ptr<RamState> ram, std::unique_ptr<WriteModel> guest,
         Link link, SendObserver* observer = nullptr);

  // --- Clock, link, state.
  double now() const { return now_; }
  const Link& link() const { return link_; }
  double LinkRate() const { return link_.RateAt(now_); }
  // The sender's own time per page record (EngineOptions::page_cost_s).
  double page_cost_s() const { return options_.page_cost_s; }
  bool multifd() const { return options_.multifd_channels > 0; }
  const RamState& ram() const { return *ram_; }
  uint64_t dirty_pages() const { return ram_->dirty_pages(); }
  uint64_t dirty_bytes() const;
  // Every byte written so far (QEMU: qemu_file_transferred).
  uint64_t wire_bytes() const { return counters_.total(); }
  // The RAM counter of the accounting chosen at Setup (7.2: ram.transferred).
  uint64_t ram_transferred() const;
  // ram_transferred() less the multifd bytes: what QEMU splits by run state.
  uint64_t ram_state_bytes() const;
  uint64_t dirty_sync_count() const { return sync_count_; }
  const StreamCounters& counters() const { return counters_; }
  // Why the run must give up now, if it must (checked by policies between steps).
  std::optional<Outcome> LimitReached() const;

  // --- Stage 1. Writes the file header, SECTION_START and MEM_SIZE after the setup time,
  // marks every page dirty and counts the setup sync (dirty-sync-count 1).
  void Setup(const StreamLayout& layout, RamAccounting accounting);
  // Marks the end of setup (setup-time) at the current time.
  void EndSetup() { setup_end_ = now_; }
  // For the report: the limits the policy applies (0 bandwidth: unlimited).
  void DescribePolicy(std::string name, double max_bandwidth, double downtime_limit_s);

  // --- Stage 2.
  // Rate cap on every byte sent from now on (0: none); Stop-and-copy lifts it.
  void SetRateCap(double bytes_per_s) { rate_cap_ = bytes_per_s; }
  // Sends pages from the migration bitmap; the clock advances by the link transfer time.
  SendResult SendPages(const SendLimits& limits);
  // A SECTION_PART header; counts an iteration.
  void BeginIteration();
  // Ends the current section (setup or iteration): EOS, counted in 7.2's ram.transferred if
  // `counted_eos` (ram_save_iterate's), and the footer.
  void EndSection(bool counted_eos);
  void WriteEos(bool counted);
  void WriteFraming(uint64_t bytes);
  // Pulls the dirty log into the migration bitmap. Returns the newly dirty pages.
  uint64_t SyncDirtyLog();
  // Waits (rate limiting): the guest keeps running, nothing is sent.
  void IdleUntil(double t);
  // vCPU throttle in percent (auto-converge); the guest writes at (100 - pct)% speed.
  void SetThrottle(int pct);
  int throttle() const { return throttle_pct_; }
  // The dirty rate the policy measured (bytes/s), reported in the series.
  void ReportDirtyRate(double bytes_per_s) { measured_dirty_rate_ = bytes_per_s; }
  // QEMU's xbzrle-cache rates of the last period (migration_update_rates).
  void ReportXbzrleRates(double cache_miss_rate, double encoding_rate) {
    result_.xbzrle.cache_miss_rate = cache_miss_rate;
    result_.xbzrle.encoding_rate = encoding_rate;
  }
  // Closes the current rate window of the series at now().
  void CloseWindow(double bandwidth_estimate, double threshold_bytes);

  // --- Stage 3. Stops the VM (switch-over starts; nothing if already stopped). A policy that
  // syncs on its own after this calls StopAndCopy(false) or StartPostcopy().
  void StopGuest();
  // Stops the VM, optionally syncs a last time, sends the rest without any rate limit, then
  // END's EOS and footer, the device state and EOF. The run has converged.
  void StopAndCopy(bool final_sync);
  // QEMU 7.2 postcopy_start after its last sync. REQUIRES: StopGuest(), postcopy_ram.
  // Sends the discard commands for the pages still to send, PING, and the PACKAGED command
  // (POSTCOPY_LISTEN, the device state, PING, POSTCOPY_RUN); the walk starts again at the first
  // block. The destination then runs the guest at now + latency + resume time: from there on
  // its writes (the only accesses the models make) to pages not yet received fault, each
  // stalling it for a round trip plus the page's transfer, and are sent before anything else
  // by SendPages() and IdleUntil(). Abort() still ends the run (for the run's limits).
  void StartPostcopy();
  bool in_postcopy() const { return postcopy_; }
  // Records that the operator issued migrate-start-postcopy now (for the report).
  void NotePostcopyRequest();
  // Postcopy completion: END, every page left (faults still served first), EOS, footer, EOF.
  void CompletePostcopy();
  // The run gives up (timeout or limit).
  void Abort(Outcome why);
  bool finished() const { return finished_; }

  // REQUIRES: StopAndCopy or Abort was called.
  SimResult TakeResult();

 private:
  // Applies the guest's writes up to now (while the VM runs). With a window, only the writes
  // that can reach zero pages the next send may take are needed now.
  void AdvanceGuest(const ZeroPageWindow* window = nullptr);
  // Advances the clock by the time `bytes` take on the link under the rate cap. With a page
  // cost, `pages` records also take the sender's time; the rate limit only sleeps away what
  // is left of a window, so that time shows when it exceeds the capped transfer time.
  void Transmit(uint64_t bytes, uint64_t pages = 0);
  // Postcopy: applies the destination guest's writes up to now, sends the pages it faulted on
  // (adding them to `sent` if not null) and updates its speed.
  void ServeFaults(SendResult* sent);
  SendResult PostcopySend(const SendLimits& limits);
  double GuestSpeed() const { return postcopy_ ? dest_speed_ : 1.0 - throttle_pct_ / 100.0; }

  EngineOptions options_;
  std::unique_ptr<RamState> ram_;
  std::unique_ptr<WriteModel> guest_;
  Link link_;
  SendObserver* observer_;
  StreamCounters counters_;
  PageSender sender_;
  StreamLayout layout_;
  RamAccounting accounting_ = RamAccounting::kQemu72;

  double now_ = 0;
  double guest_time_ = 0;  // writes applied up to here
  bool guest_running_ = true;
  double rate_cap_ = 0;
  double link_free_at_ = 0;  // with a link buffer: when the bytes written so far have left
  int throttle_pct_ = 0;
  uint64_t sync_count_ = 0;
  double setup_end_ = 0;
  double stop_time_ = 0;
  uint64_t stop_wire_bytes_ = 0;
  uint64_t stop_ram_bytes_ = 0;  // ram_transferred() when the VM stopped
  bool finished_ = false;

  // Postcopy.
  bool postcopy_ = false;
  double dest_speed_ = 1;        // the destination guest's speed, from its last slice's faults
  double fault_cost_s_ = 0;      // one fault: round trip plus the page's transfer
  double fault_check_t_ = 0;     // faults were looked for up to here
  double guest_progress_s_ = 0;  // destination guest time run while degraded
  uint64_t postcopy_ram_start_ = 0;
  std::vector<uint64_t> faults_;

  double measured_dirty_rate_ = 0;
  double window_start_ = 0;
  uint64_t window_bytes_start_ = 0;
  uint64_t pages_sent_since_sync_ = 0;

  SimResult result_;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_ENGINE_H_
