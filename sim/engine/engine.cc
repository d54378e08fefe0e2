#include "sim/engine/engine.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "protocol/wire_format.h"

namespace ramstream::sim {
namespace {

constexpr uint64_t kPage = protocol::kPageSize;

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kConverged:
      return "converged";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kSyncLimit:
      return "sync_limit";
    case Outcome::kTransferLimit:
      return "transfer_limit";
    case Outcome::kPostcopy:
      return "postcopy";
  }
  return "unknown";
}

Engine::Engine(EngineOptions options, std::unique_ptr<RamState> ram,
               std::unique_ptr<WriteModel> guest, Link link, SendObserver* observer)
    : options_(options),
      ram_(std::move(ram)),
      guest_(std::move(guest)),
      link_(std::move(link)),
      observer_(observer),
      sender_(ram_.get(), &counters_, observer) {
  result_.ram_bytes = ram_->total_pages() * kPage;
  if (options_.xbzrle_cache_bytes > 0) {
    sender_.EnableXbzrle(options_.xbzrle_cache_bytes, options_.xbzrle_encoded_bytes);
    result_.xbzrle.enabled = true;
    result_.xbzrle.cache_size = options_.xbzrle_cache_bytes;
  }
  result_.postcopy.enabled = options_.postcopy_ram;
  if (options_.multifd_channels > 0) {
    sender_.EnableMultifd(options_.multifd_channels);
    result_.multifd.enabled = true;
    result_.multifd.channels = options_.multifd_channels;
  }
}

uint64_t Engine::dirty_bytes() const { return ram_->dirty_pages() * kPage; }

uint64_t Engine::ram_state_bytes() const {
  // QEMU 7.2 adds multifd bytes to ram.transferred but not to the precopy / downtime /
  // postcopy split (ram_transferred_add).
  return ram_transferred() - counters_.multifd_bytes;
}

uint64_t Engine::ram_transferred() const {
  switch (accounting_) {
    case RamAccounting::kQemu72:
      return counters_.page_record_bytes() + counters_.counted_eos * kEosBytes +
             counters_.multifd_bytes;
    case RamAccounting::kPayloadOnly:
      return counters_.normal_pages * kPage + counters_.zero_pages;
    case RamAccounting::kEveryByte:
      return wire_bytes();
  }
  return 0;
}

std::optional<Outcome> Engine::LimitReached() const {
  if (now_ >= options_.timeout_s) return Outcome::kTimeout;
  if (options_.max_dirty_syncs > 0 && sync_count_ >= options_.max_dirty_syncs) {
    return Outcome::kSyncLimit;
  }
  if (options_.max_transferred > 0 && wire_bytes() >= options_.max_transferred) {
    return Outcome::kTransferLimit;
  }
  return std::nullopt;
}

void Engine::AdvanceGuest(const ZeroPageWindow* window) {
  if (!guest_running_) return;
  // Not past the run's timeout: the run ends there, and a transfer that waits out a long link
  // outage can move the clock arbitrarily far (a fuzzed outage until 2e55 s made the guest
  // model apply 0.5 s phases for ever).
  const double until = std::min(now_, options_.timeout_s);
  if (until > guest_time_) {
    guest_->Apply(guest_time_, until, GuestSpeed(), *ram_, window);
    guest_time_ = until;
  } else if (window == nullptr) {
    guest_->Flush(*ram_);
  }
}

void Engine::Transmit(uint64_t bytes, uint64_t pages) {
  const double cost = static_cast<double>(pages) * options_.page_cost_s;
  if (link_.buffer() > 0) {
    // The bytes queue behind those still in flight; the sender waits until the queue fits in
    // the buffer again (and for its own time per page).
    const double start = std::max(now_, link_free_at_);
    link_free_at_ = start + link_.TransferTime(start, static_cast<double>(bytes), rate_cap_);
    double rate = link_.RateAt(link_free_at_);
    if (rate_cap_ > 0) rate = std::min(rate, rate_cap_);
    now_ = std::max({now_ + cost, link_free_at_ - link_.buffer() / rate, now_});
    return;
  }
  double dt = link_.TransferTime(now_, static_cast<double>(bytes), rate_cap_);
  if (cost > 0) {
    const double link = link_.TransferTime(now_, static_cast<double>(bytes));
    // One thread scans and writes; with multifd the channel threads write the packets while
    // the migration thread scans on.
    dt = std::max(dt, options_.multifd_channels > 0 ? std::max(link, cost) : link + cost);
  }
  now_ += dt;
}

void Engine::Setup(const StreamLayout& layout, RamAccounting accounting) {
  layout_ = layout;
  accounting_ = accounting;
  now_ = options_.setup_time_s;
  // Dirty logging starts now: writes before this instant are in the pages sent anyway.
  guest_time_ = now_;
  ram_->MarkAllDirty();
  sender_.Reset();
  if (observer_ != nullptr) observer_->OnSetup(*ram_);
  // MEM_SIZE: header, then per block a counted idstr and a be64 length.
  uint64_t mem_size = protocol::kHeaderSize;
  for (const RamBlockLayout& b : ram_->blocks()) mem_size += 1 + b.name.size() + 8;
  counters_.mem_size_bytes += mem_size;
  counters_.framing_bytes += layout.file_header + layout.start_section;
  Transmit(mem_size + layout.file_header + layout.start_section);
  if (options_.postcopy_ram) WriteFraming(kCommandHeaderBytes + kPostcopyAdviseBytes);
  // ram_save_setup's sync (the log is empty, every page is already dirty).
  SyncDirtyLog();
  setup_end_ = now_;
  window_start_ = now_;
  window_bytes_start_ = wire_bytes();
}

void Engine::DescribePolicy(std::string name, double max_bandwidth, double downtime_limit_s) {
  result_.policy = std::move(name);
  result_.max_bandwidth = max_bandwidth;
  result_.downtime_limit_s = downtime_limit_s;
}

SendResult Engine::SendPages(const SendLimits& limits) {
  if (postcopy_) return PostcopySend(limits);
  // Writes change ZERO into PAGE only for zero pages still waiting to be sent; otherwise the
  // log is only read at the next sync, so applying the writes can wait until then.
  if (ram_->pending_zero_pages() > 0) {
    // Zero pages wait only in the first pass over RAM, all of them ahead of the walk, which
    // does not wrap before that pass ends. The next send covers at most this many pages: the
    // budget in 9-byte ZERO records, the page that may overshoot it, the 64-page checkpoint
    // granularity, and the padding bits at the end of each block.
    const double budget = std::min(limits.max_bytes, limits.checkpoint_bytes);
    const uint64_t pos = sender_.position();
    uint64_t end = ram_->num_bits();
    if (std::isfinite(budget) && budget >= 0) {
      const double pages = budget / static_cast<double>(kZeroRecordBytes) + 1 + 64 +
                           64 * static_cast<double>(ram_->blocks().size());
      if (pages < static_cast<double>(end - pos)) end = pos + static_cast<uint64_t>(pages);
    }
    if (limits.max_pages < end - pos) end = pos + limits.max_pages + 64 * ram_->blocks().size();
    const ZeroPageWindow window{pos, std::min(end, ram_->num_bits())};
    AdvanceGuest(&window);
  }
  SendResult r = sender_.Send(limits);
  pages_sent_since_sync_ += r.pages;
  Transmit(r.bytes, r.pages);
  return r;
}

void Engine::BeginIteration() {
  ++result_.iterations;
  WriteFraming(layout_.part_section);
}

void Engine::EndSection(bool counted_eos) {
  // ram_save_setup and ram_save_iterate: multifd_send_sync_main, then EOS.
  if (sender_.multifd()) {
    // The sync waits for every channel thread, which starts once its connection is up. In
    // the setup that is after dirty logging started, so the guest's writes meanwhile are in
    // the next sync; setup-time includes the wait.
    now_ = std::max(now_, options_.multifd_connect_time_s);
    Transmit(sender_.MultifdSync());
  }
  WriteEos(counted_eos);
  WriteFraming(layout_.footer);
}

void Engine::WriteEos(bool counted) {
  ++counters_.eos_records;
  if (counted) ++counters_.counted_eos;
  if (observer_ != nullptr) observer_->OnEos();
  Transmit(kEosBytes);
}

void Engine::WriteFraming(uint64_t bytes) {
  counters_.framing_bytes += bytes;
  Transmit(bytes);
}

uint64_t Engine::SyncDirtyLog() {
  AdvanceGuest();
  const uint64_t added = ram_->SyncLog();
  ++sync_count_;
  sender_.SetGeneration(sync_count_);
  result_.syncs.push_back(
      SyncSample{now_, sync_count_, added, ram_->dirty_pages(), pages_sent_since_sync_});
  pages_sent_since_sync_ = 0;
  return added;
}

void Engine::IdleUntil(double t) {
  // Postcopy: page requests wake the sleeping sender (QEMU's rate_limit_sem).
  while (postcopy_ && now_ < t) {
    now_ = std::min(t, now_ + kPostcopyFaultSlice);
    ServeFaults(nullptr);
  }
  if (t > now_) now_ = t;
}

void Engine::SetThrottle(int pct) {
  AdvanceGuest();  // writes so far at the old speed
  throttle_pct_ = std::clamp(pct, 0, 100);
  result_.max_throttle_pct = std::max(result_.max_throttle_pct, throttle_pct_);
}

void Engine::CloseWindow(double bandwidth_estimate, double threshold_bytes) {
  if (options_.record_series) {
    WindowSample s;
    s.t_start_s = window_start_;
    s.t_end_s = now_;
    s.sent_bytes = wire_bytes() - window_bytes_start_;
    s.remaining_bytes = dirty_bytes();
    s.dirty_rate = measured_dirty_rate_;
    s.write_rate = guest_running_ && now_ >= guest_time_
                       ? guest_->TouchRate(now_) * GuestSpeed() * static_cast<double>(kPage)
                       : 0;
    s.bandwidth_estimate = bandwidth_estimate;
    s.threshold_bytes = threshold_bytes;
    s.throttle_pct = throttle_pct_;
    s.dirty_sync_count = sync_count_;
    result_.series.push_back(s);
  }
  window_start_ = now_;
  window_bytes_start_ = wire_bytes();
}

void Engine::StopGuest() {
  if (!guest_running_) return;
  AdvanceGuest();
  guest_running_ = false;
  stop_time_ = now_;
  stop_wire_bytes_ = wire_bytes();
  stop_ram_bytes_ = ram_state_bytes();
}

void Engine::StopAndCopy(bool final_sync) {
  assert(!finished_ && !postcopy_);
  StopGuest();
  if (final_sync) SyncDirtyLog();
  sender_.SetLastStage();
  rate_cap_ = 0;  // completion is not rate limited
  WriteFraming(layout_.end_section);
  SendPages(SendLimits{});
  if (sender_.multifd()) Transmit(sender_.MultifdSync());  // ram_save_complete
  WriteEos(false);
  WriteFraming(layout_.footer);
  counters_.device_state_bytes += options_.device_state_bytes;
  Transmit(options_.device_state_bytes);
  WriteFraming(layout_.eof);
  const double done = now_ + link_.latency() + options_.resume_time_s;
  result_.outcome = Outcome::kConverged;
  result_.downtime_s = done - stop_time_;
  result_.total_time_s = done;
  result_.precopy_time_s = stop_time_ - setup_end_;
  result_.downtime_bytes = wire_bytes() - stop_wire_bytes_;
  result_.ram_precopy_bytes = stop_ram_bytes_;
  result_.ram_downtime_bytes = ram_state_bytes() - stop_ram_bytes_;
  finished_ = true;
}

void Engine::NotePostcopyRequest() {
  if (result_.postcopy.requested) return;
  result_.postcopy.requested = true;
  result_.postcopy.requested_s = now_;
}

void Engine::StartPostcopy() {
  assert(!finished_ && !postcopy_ && !guest_running_ && options_.postcopy_ram);
  // ram_postcopy_send_discard_bitmap: one range per run of pages still to send, per block.
  uint64_t discard = 0;
  const PageBitmap& dirty = ram_->dirty();
  for (const RamBlockLayout& b : ram_->blocks()) {
    uint64_t runs = 0;
    bool prev = false;
    for (size_t w = b.first_word(); w < b.end_word(); ++w) {
      const uint64_t word = dirty.word(w);
      // A run starts at each set bit whose predecessor is clear.
      runs += static_cast<uint64_t>(PopCount(word & ~((word << 1) | (prev ? 1 : 0))));
      prev = (word >> 63) != 0;
    }
    const uint64_t commands = (runs + kDiscardRangesPerCommand - 1) / kDiscardRangesPerCommand;
    discard += commands * (kCommandHeaderBytes + 3 + b.name.size()) + runs * 16;
  }
  PostcopyStats& pc = result_.postcopy;
  pc.started = true;
  pc.start_s = stop_time_;
  pc.discard_bytes = discard;
  sender_.StartPostcopy();
  WriteFraming(discard + kPingBytes);
  // The package: POSTCOPY_LISTEN, the device state (no EOF, no vmdesc), PING, POSTCOPY_RUN,
  // behind the PACKAGED command's header and be32 length.
  const uint64_t package = kCommandHeaderBytes + kPingBytes + kCommandHeaderBytes;
  pc.package_bytes = kCommandHeaderBytes + 4 + package + options_.device_state_bytes;
  WriteFraming(kCommandHeaderBytes + 4 + package);
  counters_.device_state_bytes += options_.device_state_bytes;
  Transmit(options_.device_state_bytes);
  // postcopy_start's downtime ends once the package is written (QEMU's ms->downtime, source
  // side): the destination's restart (resume time) and the latency are not in it.
  result_.downtime_s = now_ - stop_time_;
  result_.downtime_bytes = wire_bytes() - stop_wire_bytes_;
  pc.resume_s = now_ + link_.latency() + options_.resume_time_s;
  WriteFraming(kPingBytes);
  postcopy_ram_start_ = ram_state_bytes();
  // The guest resumes on the destination: its writes no longer change the source's pages.
  postcopy_ = true;
  ram_->FreezeContents();
  guest_running_ = true;
  guest_time_ = pc.resume_s;
  fault_check_t_ = pc.resume_s;
  dest_speed_ = 1;
  rate_cap_ = 0;
  fault_cost_s_ = 2 * link_.latency() +
                  static_cast<double>(kPageRecordBytes) / link_.RateAt(pc.resume_s) +
                  options_.page_cost_s;
}

void Engine::ServeFaults(SendResult* sent) {
  if (now_ <= fault_check_t_) return;
  const double guest_dt = (now_ - fault_check_t_) * dest_speed_;
  AdvanceGuest();
  fault_check_t_ = now_;
  guest_progress_s_ += guest_dt;
  faults_.clear();
  ram_->TakeLoggedDirty(&faults_);
  result_.postcopy.requests += faults_.size();
  // A vCPU waits for each page it faulted on: at the fault rate of this slice, the share of
  // time it can run is 1 / (1 + faults per guest second x cost of a fault).
  const double per_s = static_cast<double>(faults_.size()) / guest_dt;
  dest_speed_ = 1 / (1 + per_s * fault_cost_s_);
  SendResult r;
  for (uint64_t bit : faults_) {
    const SendResult p = sender_.SendPage(bit);
    r.bytes += p.bytes;
    r.pages += p.pages;
    r.zero_pages += p.zero_pages;
    r.normal_pages += p.normal_pages;
  }
  if (r.pages == 0) return;
  result_.postcopy.pages += r.pages;
  pages_sent_since_sync_ += r.pages;
  Transmit(r.bytes, r.pages);
  if (sent != nullptr) {
    sent->bytes += r.bytes;
    sent->pages += r.pages;
    sent->zero_pages += r.zero_pages;
    sent->normal_pages += r.normal_pages;
  }
}

SendResult Engine::PostcopySend(const SendLimits& limits) {
  SendResult total;
  while (true) {
    ServeFaults(&total);
    const double used = static_cast<double>(total.bytes);
    const double used_time = used + static_cast<double>(total.pages) * limits.checkpoint_page_bytes;
    if (ram_->dirty_pages() == 0 || used > limits.max_bytes ||
        used_time > limits.checkpoint_bytes || total.pages >= limits.max_pages) {
      break;
    }
    // Background pages for one slice of link time, then the faults of that slice.
    SendLimits slice;
    slice.max_bytes =
        std::min(limits.max_bytes - used, link_.Capacity(now_, kPostcopyFaultSlice, rate_cap_));
    slice.checkpoint_bytes = limits.checkpoint_bytes - used_time;
    slice.checkpoint_page_bytes = limits.checkpoint_page_bytes;
    slice.max_pages = limits.max_pages - total.pages;
    const SendResult r = sender_.Send(slice);
    if (r.pages == 0) break;
    result_.postcopy.pages += r.pages;
    pages_sent_since_sync_ += r.pages;
    Transmit(r.bytes, r.pages);
    total.bytes += r.bytes;
    total.pages += r.pages;
    total.zero_pages += r.zero_pages;
    total.normal_pages += r.normal_pages;
  }
  total.exhausted = ram_->dirty_pages() == 0;
  return total;
}

void Engine::CompletePostcopy() {
  assert(!finished_ && postcopy_);
  WriteFraming(layout_.end_section);
  SendPages(SendLimits{});
  WriteEos(false);
  WriteFraming(layout_.footer);
  WriteFraming(layout_.eof);
  const double done = now_ + link_.latency();
  PostcopyStats& pc = result_.postcopy;
  pc.end_s = std::max(done, pc.resume_s);
  pc.time_s = pc.end_s - pc.resume_s;
  // The guest ran degraded from resume_s until the last faults were looked for.
  const double degraded = fault_check_t_ - pc.resume_s;
  pc.guest_speed = degraded > 0 ? std::min(1.0, guest_progress_s_ / degraded) : 1.0;
  result_.outcome = Outcome::kPostcopy;
  result_.total_time_s = pc.end_s;
  result_.precopy_time_s = stop_time_ - setup_end_;
  result_.ram_precopy_bytes = stop_ram_bytes_;
  result_.ram_downtime_bytes = postcopy_ram_start_ - stop_ram_bytes_;
  result_.ram_postcopy_bytes = ram_state_bytes() - postcopy_ram_start_;
  finished_ = true;
}

void Engine::Abort(Outcome why) {
  assert(!finished_);
  finished_ = true;
  result_.outcome = why;
  result_.total_time_s = now_;
  if (postcopy_) {
    // Given up in postcopy: what is left are the pages not yet sent.
    ServeFaults(nullptr);
    result_.remaining_bytes = ram_->dirty_pages() * kPage;
    result_.precopy_time_s = stop_time_ - setup_end_;
    result_.ram_precopy_bytes = stop_ram_bytes_;
    result_.ram_downtime_bytes = postcopy_ram_start_ - stop_ram_bytes_;
    result_.ram_postcopy_bytes = ram_state_bytes() - postcopy_ram_start_;
    return;
  }
  AdvanceGuest();
  result_.remaining_bytes = ram_->DirtyPagesAfterSync() * kPage;
  result_.precopy_time_s = now_ - setup_end_;
  result_.ram_precopy_bytes = ram_state_bytes();
}

SimResult Engine::TakeResult() {
  assert(finished_);
  result_.setup_time_s = setup_end_;
  result_.transferred_bytes = wire_bytes();
  result_.ram_transferred_bytes = ram_transferred();
  result_.bytes = counters_;
  result_.dirty_sync_count = sync_count_;
  result_.final_throttle_pct = throttle_pct_;
  XbzrleStats& x = result_.xbzrle;
  if (x.enabled) {
    x.bytes = counters_.xbzrle_counted_bytes;
    x.pages = counters_.xbzrle_pages + counters_.xbzrle_unchanged + counters_.xbzrle_overflow;
    x.cache_miss = counters_.xbzrle_cache_miss;
    x.overflow = counters_.xbzrle_overflow;
  }
  MultifdStats& mf = result_.multifd;
  if (mf.enabled) {
    mf.bytes = counters_.multifd_bytes;
    mf.pages = counters_.multifd_pages;
    mf.packets = counters_.multifd_packets;
    mf.sync_packets = counters_.multifd_sync_packets;
  }
  return std::move(result_);
}

}  // namespace ramstream::sim
