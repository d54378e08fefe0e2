// Wire constants of QEMU's RAM migration section ("ram", instance 0, section version 4).
// Byte layout, flag history and loader rules: docs/ram-stream-format.md (sections 1 and 3).
#ifndef RAMSTREAM_PROTOCOL_WIRE_FORMAT_H_
#define RAMSTREAM_PROTOCOL_WIRE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace ramstream::protocol {

// Target page: 4096 bytes on x86 (TARGET_PAGE_BITS 12). Flags live in the low page bits of
// every record header, so an offset is always page aligned.
inline constexpr int kPageBits = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageBits;
inline constexpr uint64_t kFlagMask = kPageSize - 1;
inline constexpr uint64_t kAddressMask = ~kFlagMask;

// Record header: be64 (address | flags).
inline constexpr size_t kHeaderSize = 8;

// Flags (RAM_SAVE_FLAG_*). Values never change; names follow QEMU.
inline constexpr uint32_t kFlagFull = 0x01;  // obsolete, never sent
inline constexpr uint32_t kFlagZero = 0x02;  // "COMPRESS" before 2013: u8 fill
inline constexpr uint32_t kFlagCompress = kFlagZero;
inline constexpr uint32_t kFlagMemSize = 0x04;        // block list, total in address bits
inline constexpr uint32_t kFlagPage = 0x08;           // kPageSize raw bytes
inline constexpr uint32_t kFlagEos = 0x10;            // end of section payload
inline constexpr uint32_t kFlagContinue = 0x20;       // modifier: no idstr, same block as last
inline constexpr uint32_t kFlagXbzrle = 0x40;         // u8 encoding, be16 len, len bytes
inline constexpr uint32_t kFlagHook = 0x80;           // RDMA only
inline constexpr uint32_t kFlagCompressPage = 0x100;  // be32 len, zlib stream (2.4 .. 9.0)
inline constexpr uint32_t kFlagMultifdFlush = 0x200;  // 8.0+: header only

// Records with one of these flags name their block (idstr) unless CONTINUE is set.
inline constexpr uint32_t kFlagsWithBlock = kFlagZero | kFlagPage | kFlagXbzrle | kFlagCompressPage;

// Counted strings are a u8 length and that many bytes: at most 255.
inline constexpr size_t kMaxIdstrLen = 255;

// XBZRLE record: u8 encoding (must be kXbzrleEncoding), be16 length (<= kPageSize).
inline constexpr uint8_t kXbzrleEncoding = 0x01;
inline constexpr size_t kXbzrleHeaderSize = 3;
// Run lengths are ULEB128 of at most two bytes (values up to 0x3fff).
inline constexpr uint32_t kXbzrleMaxRun = 0x3fff;

// COMPRESS_PAGE: be32 length, at most compressBound(4096) = 4110 with zlib.
inline constexpr size_t kCompressedLenSize = 4;
inline constexpr uint32_t kMaxCompressedLen = 4110;

// The RAM section's version; the 2010 loader also accepted version 3 (global ram_addr, no
// idstr, MEM_SIZE carrying only the total).
inline constexpr uint32_t kRamSectionVersion = 4;
inline constexpr uint32_t kRamSectionVersionLegacy = 3;

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_WIRE_FORMAT_H_
