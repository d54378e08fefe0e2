#include "sim/engine/sender.h"

#include <algorithm>
#include <bit>

namespace ramstream::sim {

PageSender::PageSender(RamState* ram, StreamCounters* counters, SendObserver* observer)
    : ram_(ram), counters_(counters), observer_(observer) {
  for (const RamBlockLayout& b : ram_->blocks()) idstr_bytes_.push_back(IdstrBytes(b.name.size()));
}

void PageSender::Reset() {
  pos_ = 0;
  last_block_ = -1;
  first_pass_done_ = false;
  last_stage_ = false;
  postcopy_ = false;
}

void PageSender::StartPostcopy() {
  pos_ = 0;
  last_block_ = -1;
  postcopy_ = true;
}

SendResult PageSender::SendPage(uint64_t bit) {
  SendResult r;
  const size_t w = static_cast<size_t>(bit >> 6);
  const uint64_t mask = uint64_t{1} << (bit & 63);
  if ((ram_->dirty().word(w) & mask) == 0) return r;
  SendWord(w, ram_->BlockOfWord(w), mask, SendLimits{}, &r);
  r.exhausted = ram_->dirty().count() == 0;
  return r;
}

void PageSender::EnableXbzrle(uint64_t cache_bytes, uint64_t encoded_bytes) {
  // Slots index by bit, so a cache with at least as many slots as the bit space gives every
  // page its own slot and any larger cache behaves the same: capped there, a "2TiB" cache on
  // a small guest allocates only what it can use (the fuzzer's first out-of-memory input).
  const uint64_t space = std::bit_ceil(std::max<uint64_t>(1, ram_->num_bits()));
  const uint64_t slots =
      std::min(space, std::bit_floor(std::max<uint64_t>(1, cache_bytes / protocol::kPageSize)));
  cache_page_.assign(static_cast<size_t>(slots), kNoPage);
  cache_age_.assign(static_cast<size_t>(slots), 0);
  encoded_bytes_ = encoded_bytes;
}

bool PageSender::CacheHit(uint64_t bit) {
  const size_t slot = static_cast<size_t>(bit & (cache_page_.size() - 1));
  if (cache_page_[slot] != bit) return false;
  cache_age_[slot] = generation_;
  return true;
}

void PageSender::CacheInsert(uint64_t bit) {
  constexpr uint64_t kLifetime = 2;  // CACHED_PAGE_LIFETIME
  const size_t slot = static_cast<size_t>(bit & (cache_page_.size() - 1));
  if (cache_page_[slot] != kNoPage && cache_page_[slot] != bit &&
      cache_age_[slot] + kLifetime > generation_) {
    return;  // a fresh page of another address keeps the slot
  }
  cache_page_[slot] = bit;
  cache_age_[slot] = generation_;
}

bool PageSender::SendWord(size_t w, size_t b, uint64_t mask, const SendLimits& limits,
                          SendResult* r) {
  const uint64_t zero = ram_->ZeroMask(w);
  const bool named = last_block_ != static_cast<int64_t>(b);
  if (observer_ == nullptr && !xbzrle_active() && !multifd()) {
    // Whole word at once if no limit can trigger inside it.
    const uint64_t nz = static_cast<uint64_t>(PopCount(mask & zero));
    const uint64_t nn = static_cast<uint64_t>(PopCount(mask & ~zero));
    const uint64_t name = named ? idstr_bytes_[b] : 0;
    const uint64_t cost = nz * kZeroRecordBytes + nn * kPageRecordBytes + name;
    const double after = static_cast<double>(r->bytes + cost);
    const double pages_after = static_cast<double>(r->pages + nz + nn);
    if (after <= limits.max_bytes &&
        after + pages_after * limits.checkpoint_page_bytes <= limits.checkpoint_bytes &&
        r->pages + nz + nn <= limits.max_pages) {
      counters_->zero_pages += nz;
      counters_->normal_pages += nn;
      counters_->zero_bytes += nz * kZeroRecordBytes;
      counters_->normal_bytes += nn * kPageRecordBytes;
      if (named) {
        // The word's first page carries the idstr.
        const bool first_is_zero = (zero & mask & (~mask + 1)) != 0;
        counters_->named_records += 1;
        counters_->idstr_bytes += name;
        (first_is_zero ? counters_->zero_bytes : counters_->normal_bytes) += name;
      }
      counters_->continue_saved_bytes += (nz + nn - (named ? 1 : 0)) * idstr_bytes_[b];
      r->bytes += cost;
      r->pages += nz + nn;
      r->zero_pages += nz;
      r->normal_pages += nn;
      ram_->TakeDirty(w, mask);
      last_block_ = static_cast<int64_t>(b);
      pos_ = (static_cast<uint64_t>(w) << 6) + 64 - static_cast<uint64_t>(std::countl_zero(mask));
      return true;
    }
  }
  const uint64_t block_first_bit = ram_->blocks()[b].first_bit;
  while (mask != 0) {
    if (static_cast<double>(r->bytes) > limits.max_bytes || r->pages >= limits.max_pages) {
      return false;
    }
    const uint64_t bit_mask = mask & (~mask + 1);
    const uint64_t bit =
        (static_cast<uint64_t>(w) << 6) + static_cast<uint64_t>(std::countr_zero(mask));
    mask &= mask - 1;
    const bool is_zero = (zero & bit_mask) != 0;
    if (multifd() && !is_zero && !postcopy_) {
      // ram_save_multifd_page: a block change sends the queued packet first.
      if (multifd_queued_ > 0 && multifd_block_ != static_cast<int64_t>(b)) {
        r->bytes += SendMultifdPacket();
      }
      multifd_block_ = static_cast<int64_t>(b);
      ++multifd_queued_;
      ++counters_->multifd_pages;
      ++counters_->normal_pages;
      ++r->normal_pages;
      ++r->pages;
      if (multifd_queued_ == kMultifdPacketPages) r->bytes += SendMultifdPacket();
      ram_->TakeDirty(w, bit_mask);
      pos_ = bit + 1;
      if (CheckpointReached(limits, *r)) return false;
      continue;
    }
    const bool page_named = last_block_ != static_cast<int64_t>(b);
    uint64_t bytes =
        (is_zero ? kZeroRecordBytes : kPageRecordBytes) + (page_named ? idstr_bytes_[b] : 0);
    bool xbzrle = false;
    if (xbzrle_active()) {
      if (is_zero) {
        CacheInsert(bit);  // xbzrle_cache_zero_page
      } else if (!CacheHit(bit)) {
        ++counters_->xbzrle_cache_miss;
        if (!last_stage_) CacheInsert(bit);
      } else if (encoded_bytes_ == 0) {
        // Unchanged since it was cached: not sent at all (counted in xbzrle pages by QEMU).
        ++counters_->xbzrle_unchanged;
        ram_->TakeDirty(w, bit_mask);
        pos_ = bit + 1;
        continue;
      } else if (encoded_bytes_ > protocol::kPageSize) {
        ++counters_->xbzrle_overflow;
        counters_->xbzrle_counted_bytes += protocol::kPageSize;
      } else {
        xbzrle = true;
        bytes = protocol::PageRecordSize(page_named, ram_->blocks()[b].name.size(),
                                         protocol::XbzrlePayload(encoded_bytes_));
        // QEMU's xbzrle bytes leave out the 8-byte page header (save_xbzrle_page).
        counters_->xbzrle_counted_bytes += bytes - protocol::kHeaderSize;
      }
    }
    if (xbzrle) {
      ++counters_->xbzrle_pages;
      counters_->xbzrle_bytes += bytes;
    } else if (is_zero) {
      ++counters_->zero_pages;
      counters_->zero_bytes += bytes;
      ++r->zero_pages;
    } else {
      ++counters_->normal_pages;
      counters_->normal_bytes += bytes;
      ++r->normal_pages;
    }
    if (page_named) {
      ++counters_->named_records;
      counters_->idstr_bytes += idstr_bytes_[b];
    } else {
      counters_->continue_saved_bytes += idstr_bytes_[b];
    }
    r->bytes += bytes;
    ++r->pages;
    ram_->TakeDirty(w, bit_mask);
    last_block_ = static_cast<int64_t>(b);
    pos_ = bit + 1;
    if (observer_ != nullptr && xbzrle) {
      observer_->OnXbzrlePage(b, bit - block_first_bit, encoded_bytes_, page_named);
    } else if (observer_ != nullptr) {
      observer_->OnPage(b, bit - block_first_bit, is_zero, page_named);
    }
    if (CheckpointReached(limits, *r)) return false;
  }
  return true;
}

bool PageSender::CheckpointReached(const SendLimits& limits, const SendResult& r) {
  return r.pages % 64 == 1 && static_cast<double>(r.bytes) +
                                      static_cast<double>(r.pages) * limits.checkpoint_page_bytes >
                                  limits.checkpoint_bytes;
}

uint64_t PageSender::SendMultifdPacket() {
  const uint64_t bytes = kMultifdHeaderBytes + multifd_queued_ * protocol::kPageSize;
  ++counters_->multifd_packets;
  counters_->multifd_bytes += bytes;
  multifd_queued_ = 0;
  multifd_block_ = -1;
  return bytes;
}

uint64_t PageSender::MultifdSync() {
  const uint64_t bytes = multifd_queued_ > 0 ? SendMultifdPacket() : 0;
  const uint64_t sync = multifd_channels_ * kMultifdHeaderBytes;
  counters_->multifd_sync_packets += multifd_channels_;
  counters_->multifd_bytes += sync;
  return bytes + sync;
}

SendResult PageSender::Send(const SendLimits& limits) {
  SendResult r;
  const PageBitmap& dirty = ram_->dirty();
  const size_t nwords = dirty.num_words();
  if (pos_ >= static_cast<uint64_t>(nwords) << 6) pos_ = 0;
  const size_t start_word = static_cast<size_t>(pos_ >> 6);
  const unsigned start_bit = static_cast<unsigned>(pos_ & 63);
  // Two passes make the circle: [pos_, end), then [0, pos_).
  for (int pass = 0; pass < 2 && dirty.count() > 0; ++pass) {
    size_t block = 0;
    const auto& blocks = ram_->blocks();
    for (size_t w = dirty.NextNonzeroWord(pass == 0 ? start_word : 0); w != PageBitmap::kNone;
         w = dirty.NextNonzeroWord(w + 1)) {
      if (pass == 1 && w > start_word) break;
      uint64_t mask = dirty.word(w);
      if (pass == 0 && w == start_word) mask &= ~BitRangeMask(0, start_bit);
      if (pass == 1 && w == start_word) mask &= BitRangeMask(0, start_bit);
      if (mask == 0) continue;
      while (block + 1 < blocks.size() && w >= blocks[block + 1].first_word()) ++block;
      if (!SendWord(w, block, mask, limits, &r)) return r;
    }
    // The walk reached the end of RAM: QEMU's complete_round, which turns XBZRLE on.
    if (pass == 0) first_pass_done_ = true;
  }
  r.exhausted = dirty.count() == 0;
  return r;
}

}  // namespace ramstream::sim
