# shellcheck shell=sh disable=SC2034
# Requires: IMA in the kernel (Debian has it), securityfs.  Checks: with an
# IMA policy that measures device-mapper's critical data, loading a splitdf
# table records the target's STATUSTYPE_IMA text: name, version, every leg
# and the features; with 64 legs, more than dm's buffer holds, the features
# still and the record whole.  dm measures tables only since 5.15; before
# that nothing may be recorded.
DESCRIPTION="IMA measurement of a splitdf table (STATUSTYPE_IMA)"
TIMEOUT=120

SEC=/sys/kernel/security

# The decoded buffers of the dm_table_load measurements, one a line.
dm_measurements() {
	awk '$5 == "dm_table_load" { print $6 }' $SEC/ima/ascii_runtime_measurements |
		while read -r hex; do
			echo "$hex" | sed 's/../\\x&/g' | xargs -0 printf '%b'
			echo
		done
}

test_case() {
	set -e
	grep -q " $SEC " /proc/mounts || mount -t securityfs securityfs $SEC
	if [ ! -e $SEC/ima/policy ]; then
		# dm measures tables only since 5.15: before, a kernel without IMA has nothing to test.
		kernel_before 5 15 && skip "no IMA in this kernel, and dm has no IMA status before 5.15"
		fail "no IMA in this kernel"
	fi
	echo "measure func=CRITICAL_DATA label=device-mapper template=ima-buf" >$SEC/ima/policy ||
		fail "IMA policy not accepted"
	setup_ramdisks 2 1
	dm_create sdf "0 3000 splitdf 3 /dev/ram0 8 1000 /dev/ram1 16 1000 /dev/ram0 1024 1000 $(features max_pinned 9 boundary_sectors 24)"
	m=$(dm_measurements | grep 'target_name=splitdf' || true)
	if kernel_before 5 15; then
		[ -z "$m" ] || fail "a measurement on a kernel before 5.15: $m"
		echo "no IMA status before 5.15: none recorded"
		return 0
	fi
	echo "$m"
	echo "$m" | grep -q "target_name=splitdf,target_version=1\.[0-9]*\.[0-9]*,boundary_sectors=24,max_pinned=9,max_pieces=0,split_mode=clone,nr_legs=3,legs_crc32=39b473df,leg_0_device_name=1:0,leg_0_offset=8,leg_0_sectors=1000,leg_1_device_name=1:1,leg_1_offset=16,leg_1_sectors=1000,leg_2_device_name=1:0,leg_2_offset=1024,leg_2_sectors=1000;" ||
		fail "IMA status not as documented"
	echo "IMA status recorded as documented"
	dmsetup remove sdf
	many_legs
}

# many_legs: 64 legs are more than dm's buffer holds.  Tables that differ
# only in split_mode still measure differently, and each record has as many
# legs as fit, in order, the last one whole and followed by the closing ';';
# a table that differs only in its last leg, which does not fit, measures
# another legs_crc32.
many_legs() {
	legs="" i=0
	while [ $i -lt 64 ]; do
		legs="$legs /dev/ram0 $((i * 16)) 16"
		i=$((i + 1))
	done
	for mode in clone ordered; do
		dm_create "many-$mode" "0 1024 splitdf 64$legs $(features split_mode "$mode")"
		dmsetup remove "many-$mode"
	done
	# The same but for the last leg, which the record has no room for
	dm_create many-last "0 1024 splitdf 64${legs% /dev/ram0 * 16} /dev/ram1 0 16"
	dmsetup remove many-last
	crc_last=$(dm_measurements | sed -n 's/.*target_name=splitdf,.*,nr_legs=64,legs_crc32=\([0-9a-f]*\),.*/\1/p' | tail -n1)
	for mode in clone ordered; do
		r=$(dm_measurements | grep "target_name=splitdf,.*,split_mode=$mode,nr_legs=64," | head -n1 || true)
		[ -n "$r" ] || fail "64 legs, split_mode $mode: no record with the mode and nr_legs"
		n=$(echo "$r" | grep -o 'leg_[0-9]*_sectors=16' | wc -l)
		expect_ge "$n" 8 "64 legs, split_mode $mode: legs recorded"
		# Legs 0 to n-1, the last one whole and closing the record
		expect_eq "$(echo "$r" | grep -o "leg_$((n - 1))_offset=$(((n - 1) * 16)),leg_$((n - 1))_sectors=16;")" \
			"leg_$((n - 1))_offset=$(((n - 1) * 16)),leg_$((n - 1))_sectors=16;" \
			"64 legs, split_mode $mode: legs in order, the record closed"
		klog_note "64 legs, split_mode $mode: $n legs in the IMA record of ${#r} bytes"
	done
	crc_clone=$(dm_measurements | sed -n 's/.*target_name=splitdf,.*,split_mode=clone,nr_legs=64,legs_crc32=\([0-9a-f]*\),.*/\1/p' | head -n1)
	if [ -z "$crc_last" ] || [ -z "$crc_clone" ] || [ "$crc_last" = "$crc_clone" ]; then
		fail "64 legs: legs_crc32 '$crc_clone', with another last leg '$crc_last'"
	fi
	echo "64 legs: the features measured in each mode, the record whole, every leg in legs_crc32"
}
