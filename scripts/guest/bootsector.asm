; ramstream test guest: a 512-byte x86 boot sector (attached as a raw -drive; SeaBIOS loads it
; at 0x7c00). It fills chosen RAM pages with a known pattern, leaves the pages between them
; untouched (zero), signals 'F' on COM1 and then either halts (fill guest) or keeps re-dirtying
; a working set of pages forever (dirty guest, -DDIRTY; at a fixed rate with -DDIRTY_PERIOD=N).
; See scripts/guest/README.md.
;
;   nasm -f bin -o fill.bin scripts/guest/bootsector.asm
;   nasm -f bin -DDIRTY -o dirty.bin scripts/guest/bootsector.asm
;   nasm -f bin -DDIRTY_PERIOD=1000000 -o paced.bin scripts/guest/bootsector.asm
;
; Every layout value can be overridden with -DNAME=VALUE. Addresses are guest-physical and
; must be page aligned, above 1 MiB and inside RAM; all fit in 32 bits (flat protected mode).

%ifndef FILL_START
%define FILL_START 0x100000     ; first pattern page
%endif
%ifndef FILL_END
%define FILL_END 0x300000       ; pattern pages are FILL_START + k*FILL_STRIDE below this
%endif
%ifndef FILL_STRIDE
%define FILL_STRIDE 0x2000      ; every other page: pattern, zero, pattern, ...
%endif
%ifndef PATTERN_SEED
%define PATTERN_SEED 0x5eed0000 ; the dword at physical address X holds X xor PATTERN_SEED
%endif
%ifndef DIRTY_START
%define DIRTY_START 0x300000    ; working set [DIRTY_START, DIRTY_END), one byte per page
%endif
%ifndef DIRTY_END
%define DIRTY_END 0x400000      ; 256 pages
%endif

%ifndef COUNTER_ADDR
%define COUNTER_ADDR 0x500      ; paced guest: dword count of pages written (free low memory)
%endif

%define COM1 0x3f8

        bits 16
        org 0x7c00

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        ; Fast A20 gate (port 0x92 bit 1), so addresses above 1 MiB are not wrapped. Bit 0
        ; would reset the machine: keep it clear.
        in al, 0x92
        or al, 2
        and al, 0xfe
        out 0x92, al
        lgdt [gdt_descriptor]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp 0x08:protected

        bits 32
protected:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        cld

        ; Fill: every dword of each pattern page holds its own address xor the seed, so a
        ; page that lands at the wrong offset or block never matches.
        mov edi, FILL_START
.fill_page:
        mov ecx, 4096 / 4
.fill_dword:
        mov eax, edi
        xor eax, PATTERN_SEED
        stosd
        loop .fill_dword
        add edi, FILL_STRIDE - 4096
        cmp edi, FILL_END
        jb .fill_page

%ifdef DIRTY_PERIOD
        ; Paced guest: every working-set page holds data before the 'F' (so a migration
        ; sends each of them as PAGE from the first pass on).
        mov esi, DIRTY_START
.prefill:
        mov dword [esi], 0xffffffff
        add esi, 4096
        cmp esi, DIRTY_END
        jb .prefill
%endif

        mov dx, COM1
        mov al, 'F'
        out dx, al

%ifdef DIRTY_PERIOD
        ; Paced re-dirtying (scripts/qemu-grid): one page every DIRTY_PERIOD TSC ticks, in
        ; address order over the working set, wrapping at its end. Under TCG the guest's TSC
        ; is the host's, so the rate does not depend on how fast TCG runs (as long as it keeps
        ; up; a late writer catches up in a burst). ebx counts the pages written; the count is
        ; stored at COUNTER_ADDR after each write, so the host can read the rate and the
        ; position with `xp` (HMP). The page gets the count itself, never zero, so a page
        ; never turns back into a zero page. invlpg as in the unpaced loop below.
        xor ebx, ebx
        rdtsc
        mov ebp, eax
        mov ecx, edx                    ; ecx:ebp = TSC of the next write
.paced_pass:
        mov esi, DIRTY_START
.paced_page:
        rdtsc
        sub eax, ebp
        sbb edx, ecx
        js .paced_page                  ; not yet
        add ebp, DIRTY_PERIOD
        adc ecx, 0
        inc ebx
        invlpg [esi]
        mov [esi], ebx
        mov [COUNTER_ADDR], ebx
        add esi, 4096
        cmp esi, DIRTY_END
        jb .paced_page
        jmp .paced_pass
%elifdef DIRTY
        ; Re-dirty the working set: add one to the first byte of every page, forever.
        ; invlpg before each write: QEMU 7.2's TCG can keep a TLB entry that was filled
        ; before the migration's dirty-bitmap sync and then write through it without
        ; marking the page dirty. A fresh TLB fill always takes the dirty-tracking path.
        ; No I/O in this loop: an OUT to COM1 takes QEMU's big lock, which the migration
        ; thread also takes for each dirty-bitmap sync. A vCPU that dirties nothing between
        ; two syncs ends a non-convergent migration at once (nothing pending).
.pass:
        mov esi, DIRTY_START
.dirty_page:
        invlpg [esi]
        inc byte [esi]
        add esi, 4096
        cmp esi, DIRTY_END
        jb .dirty_page
        jmp .pass
%else
.halt:
        hlt                             ; interrupts are off: the vCPU sleeps for good
        jmp .halt
%endif

        align 8
gdt:
        dq 0                            ; null descriptor
        dq 0x00cf9a000000ffff           ; 0x08: code, base 0, limit 4 GiB, 32-bit
        dq 0x00cf92000000ffff           ; 0x10: data, base 0, limit 4 GiB
gdt_descriptor:
        dw gdt_descriptor - gdt - 1
        dd gdt

        times 510 - ($ - $$) db 0
        dw 0xaa55
