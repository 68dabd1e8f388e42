# bash completion for wgts(8), wgts quick (wgts-quick(8)), wgts registry (wgts-registry(8)),
# wgts peer (wgts-peer(8)), and wgts exporter, reresolve, lint and allowed-ips (wgts-exporter(8) ...
# wgts-allowed-ips(8)).
# Commands come from `wgts --help`, so new subcommands are completed without editing this file;
# interfaces from `wgts show interfaces`, peers from `wgts show IF peers`, configuration names from
# /etc/wireguard/*.conf.

_wgts_subcommands() {
	local line
	while read -r line; do
		[[ $line =~ ^([a-z][a-z0-9-]*):\  ]] && printf '%s\n' "${BASH_REMATCH[1]}"
	done < <(wgts --help 2>/dev/null)
}

_wgts_interfaces() {
	local ifaces
	ifaces=$(wgts show interfaces 2>/dev/null) && printf '%s\n' $ifaces
}

_wgts_config_names() {
	local f
	for f in /etc/wireguard/*.conf; do
		[[ -f $f ]] || continue
		f=${f##*/}
		printf '%s\n' "${f%.conf}"
	done
}

_wgts_compgen() {
	# COMPREPLY from newline-separated words ($1), filtered by the current word ($2)
	local IFS=$'\n'
	COMPREPLY+=( $(compgen -W "$1" -- "$2") )
}

_wgts_quick() {
	local cur=$1 i=$2
	local -a words=("${COMP_WORDS[@]:i}")
	local n=$((COMP_CWORD - i))
	if ((n == 1)); then
		_wgts_compgen $'up\ndown\nreload\nsave\nstrip' "$cur"
		return
	fi
	local action=${words[1]}
	if [[ ${COMP_WORDS[COMP_CWORD-1]} == --nat-via ]]; then
		local dev devs=""
		for dev in /sys/class/net/*; do [[ -e $dev ]] && printf -v devs '%s%s\n' "$devs" "${dev##*/}"; done
		_wgts_compgen "$devs" "$cur"
		return
	fi
	if ((n == 2)); then
		case $action in
		up|strip)
			_wgts_compgen "$(_wgts_config_names)" "$cur"
			local IFS=$'\n'
			COMPREPLY+=( $(compgen -f -X '!*.conf' -- "$cur") $(compgen -d -- "$cur") )
			compopt -o filenames 2>/dev/null
			;;
		down|save|reload)
			_wgts_compgen "$(_wgts_interfaces)" "$cur"
			;;
		esac
		return
	fi
	if ((n == 3)) && [[ $action == up ]]; then
		_wgts_compgen '--nat-via' "$cur"
	elif ((n >= 3)) && [[ $action == reload ]]; then
		local w flags=$'--hooks\n--nat-via\n--no-nat-via'
		for w in "${words[@]:3:n-3}"; do
			case $w in
			--hooks) flags=${flags/--hooks/} ;;
			--nat-via|--no-nat-via) flags=${flags/--nat-via/}; flags=${flags/--no-nat-via/}; flags=${flags/--no-/} ;;
			esac
		done
		_wgts_compgen "$flags" "$cur"
	fi
}

_wgts_registry() {
	# `wgts registry serve|discover|export IFNAME [options]`; options may come before the interface,
	# as src/cli/registry.ts parses them, and --listen and --ns may repeat.
	local cur=$1 i=$2
	if ((COMP_CWORD - i == 1)); then
		_wgts_compgen $'serve\ndiscover\nexport' "$cur"
		return
	fi
	local valued flags
	case ${COMP_WORDS[i+1]} in
	serve) valued='--zone --listen' flags='--allow-wildcard' ;;
	discover) valued='--registry --zone --interval --keepalive --fresh --timeout' flags='--add-new' ;;
	export) valued='--zone --ttl --interval --zone-file --ns --mname --rname --reload --update --tsig-key --timeout' flags='' ;;
	*) return ;;
	esac
	local prev=${COMP_WORDS[COMP_CWORD-1]}
	# A value (address, zone, seconds): nothing to offer. `=` is a word of its own (COMP_WORDBREAKS).
	[[ $prev == = || " $valued " == *" $prev "* ]] && return
	local j w used=" " has_if=0
	for ((j = i + 2; j < COMP_CWORD; j++)); do
		w=${COMP_WORDS[j]}
		if [[ $w == --* ]]; then
			used+="${w%%=*} "
			if [[ $w != *=* && " $valued " == *" $w "* ]]; then
				((j++))
				[[ ${COMP_WORDS[j]} == = ]] && ((j++))
			fi
		else
			has_if=1
		fi
	done
	if ((!has_if)) && [[ $cur != -* ]]; then
		_wgts_compgen "$(_wgts_interfaces)" "$cur"
		return
	fi
	local o opts=''
	for o in $valued $flags; do
		[[ $o == --listen || $o == --ns || $used != *" $o "* ]] && opts+="$o"$'\n'
	done
	_wgts_compgen "$opts" "$cur"
}

_wgts_peer_names() {
	# Names from `wgts peer list IF --json` (one `"name": "..."` line per peer; names hold no quotes)
	local line
	while IFS= read -r line; do
		[[ $line =~ ^\ +\"name\":\ \"(.*)\",$ ]] && printf '%s\n' "${BASH_REMATCH[1]}"
	done < <(wgts peer list "$1" --json 2>/dev/null)
}

_wgts_peer() {
	# `wgts peer add|remove|list IFACE ...`, as src/cli/peer.ts parses it
	local cur=$1 i=$2
	local n=$((COMP_CWORD - i))
	if ((n == 1)); then
		_wgts_compgen $'add\nremove\nlist' "$cur"
		return
	fi
	local action=${COMP_WORDS[i+1]} iface=${COMP_WORDS[i+2]}
	if ((n == 2)); then
		_wgts_compgen "$(_wgts_interfaces)"$'\n'"$(_wgts_config_names)" "$cur"
		return
	fi
	case $action in
	remove)
		((n == 3)) && _wgts_compgen "$(_wgts_peer_names "$iface")"$'\n'"$(wgts show "$iface" peers 2>/dev/null)" "$cur"
		;;
	list)
		((n == 3)) && _wgts_compgen '--json' "$cur"
		;;
	add)
		local prev=${COMP_WORDS[COMP_CWORD-1]}
		case $prev in
		--out|--qr)
			compopt -o filenames 2>/dev/null
			local IFS=$'\n'
			COMPREPLY=( $(compgen -f -- "$cur") )
			return ;;
		--ip)
			_wgts_compgen 'auto' "$cur"
			return ;;
		--name|--endpoint|--dns|--allowed-ips|--keepalive)
			return ;;
		esac
		local j used=" " o opts=''
		for ((j = i + 3; j < COMP_CWORD; j++)); do used+="${COMP_WORDS[j]} "; done
		for o in --name --endpoint --ip --dns --allowed-ips --split --keepalive --psk --out --qr; do
			[[ $used == *" $o "* ]] && continue
			[[ $o == --split && $used == *" --allowed-ips "* ]] && continue
			[[ $o == --allowed-ips && $used == *" --split "* ]] && continue
			opts+="$o"$'\n'
		done
		_wgts_compgen "$opts" "$cur"
		;;
	esac
}

_wgts() {
	COMPREPLY=()
	local cur=${COMP_WORDS[COMP_CWORD]}
	local prev=${COMP_WORDS[COMP_CWORD-1]}
	if ((COMP_CWORD == 1)); then
		_wgts_compgen "$(_wgts_subcommands)" "$cur"
		return
	fi
	local cmd=${COMP_WORDS[1]}
	case $cmd in
	show)
		# `show [IF|all|interfaces] [FIELD]`, or `show --json [--show-keys] [IF|all]` in any order.
		local j json=0 keys=0 target=0
		for ((j = 2; j < COMP_CWORD; j++)); do
			case ${COMP_WORDS[j]} in
			--json) json=1 ;;
			--show-keys) keys=1 ;;
			*) target=1 ;;
			esac
		done
		if ((json || keys)); then
			local opts=''
			((json)) || opts+=$'--json\n'
			((keys)) || opts+=$'--show-keys\n'
			((target)) || opts+="$(_wgts_interfaces)"$'\nall'
			_wgts_compgen "$opts" "$cur"
		elif ((COMP_CWORD == 2)); then
			_wgts_compgen "$(_wgts_interfaces)"$'\nall\ninterfaces\n--json' "$cur"
		elif ((COMP_CWORD == 3)) && [[ $prev != interfaces ]]; then
			_wgts_compgen $'public-key\nprivate-key\nlisten-port\nfwmark\npeers\npreshared-keys\nendpoints\nallowed-ips\nlatest-handshakes\ntransfer\npersistent-keepalive\ndump\n--json' "$cur"
		fi
		;;
	showconf)
		((COMP_CWORD == 2)) && _wgts_compgen "$(_wgts_interfaces)" "$cur"
		;;
	setconf|addconf|syncconf)
		if ((COMP_CWORD == 2)); then
			_wgts_compgen "$(_wgts_interfaces)" "$cur"
		elif ((COMP_CWORD == 3)); then
			compopt -o filenames 2>/dev/null
			local IFS=$'\n'
			COMPREPLY=( $(compgen -f -- "$cur") )
		fi
		;;
	set)
		if ((COMP_CWORD == 2)); then
			_wgts_compgen "$(_wgts_interfaces)" "$cur"
			return
		fi
		case $prev in
		private-key|preshared-key)
			compopt -o filenames 2>/dev/null
			local IFS=$'\n'
			COMPREPLY=( $(compgen -f -- "$cur") )
			return ;;
		peer)
			_wgts_compgen "$(wgts show "${COMP_WORDS[2]}" peers 2>/dev/null)" "$cur"
			return ;;
		listen-port|fwmark|endpoint|persistent-keepalive|allowed-ips)
			return ;;
		esac
		# Options not given yet: device options before the first `peer`, peer options after it.
		local i in_peer=0 has_peer=0 used=" "
		for ((i = 3; i < COMP_CWORD; i++)); do
			if [[ ${COMP_WORDS[i]} == peer ]]; then in_peer=1 has_peer=1 used=" "; continue; fi
			used+="${COMP_WORDS[i]} "
		done
		local opts='' o
		if ((in_peer)); then
			for o in remove preshared-key endpoint persistent-keepalive allowed-ips; do
				[[ $used == *" $o "* ]] || opts+="$o"$'\n'
			done
		else
			for o in listen-port fwmark private-key; do
				[[ $used == *" $o "* ]] || opts+="$o"$'\n'
			done
		fi
		opts+=peer
		_wgts_compgen "$opts" "$cur"
		;;
	quick)
		_wgts_quick "$cur" 1
		;;
	registry)
		_wgts_registry "$cur" 1
		;;
	peer)
		_wgts_peer "$cur" 1
		;;
	exporter)
		# `wgts exporter [--listen ADDR:PORT] [IFACE...]`: an address is the user's to type.
		[[ $prev == --listen || $prev == -l || $prev == = ]] && return
		if [[ $cur == -* ]]; then
			_wgts_compgen '--listen' "$cur"
		else
			_wgts_compgen "$(_wgts_interfaces)" "$cur"
		fi
		;;
	reresolve)
		# `wgts reresolve IFACE [--force]`
		if [[ $cur == -* ]]; then
			_wgts_compgen '--force' "$cur"
		elif ((COMP_CWORD == 2)) || [[ $prev == --force ]]; then
			_wgts_compgen "$(_wgts_interfaces)" "$cur"
		fi
		;;
	lint)
		# `wgts lint [--json] FILE|NAME...`: configuration names and files.
		if [[ $cur == -* ]]; then
			_wgts_compgen '--json' "$cur"
		else
			_wgts_compgen "$(_wgts_config_names)" "$cur"
			local IFS=$'\n'
			COMPREPLY+=( $(compgen -f -X '!*.conf' -- "$cur") $(compgen -d -- "$cur") )
			compopt -o filenames 2>/dev/null
		fi
		;;
	allowed-ips)
		# `wgts allowed-ips CIDR,... [--exclude CIDR,...]`: prefixes are the user's to type.
		[[ $cur == -* ]] && _wgts_compgen '--exclude' "$cur"
		;;
	esac
}

complete -F _wgts wgts
