use super::*;

/// Evaluates `expr` with no variables; errors as their text.
fn eval(expr: &str) -> Result<Value, String> {
    let program = compile(expr)?;
    program
        .execute(&context(vec![]))
        .map_err(|e| error_text(&e))
}

#[test]
fn every_library_declares() {
    build_env().unwrap();
}

#[test]
fn kubernetes_libraries_as_upstream() {
    let cases: &[(&str, Value)] = &[
        // lists
        ("[1, 2, 3].isSorted()", Value::Bool(true)),
        ("['b', 'a'].isSorted()", Value::Bool(false)),
        ("[1, 2, 3].sum()", Value::Int(6)),
        ("[1.5, 2.5].sum()", Value::Float(4.0)),
        ("[].sum()", Value::Int(0)),
        ("[3, 1, 2].min()", Value::Int(1)),
        ("['a', 'c', 'b'].max()", Value::from("c")),
        ("[1, 2, 1].indexOf(1)", Value::Int(0)),
        ("[1, 2, 1].lastIndexOf(1)", Value::Int(2)),
        ("[1, 2].indexOf(3)", Value::Int(-1)),
        ("sets.contains([1, 2, 3], [2, 3])", Value::Bool(true)),
        ("sets.equivalent([1, 2], [2, 1, 1])", Value::Bool(true)),
        ("sets.intersects([1], [2])", Value::Bool(false)),
        // cel-go's strings and lists extensions
        ("'a,b'.split(',').size() == 2", Value::Bool(true)),
        ("'TacoCat'.lowerAscii()", Value::from("tacocat")),
        // regex
        ("'abc 123'.find('[0-9]+')", Value::from("123")),
        ("'abc'.find('[0-9]+')", Value::from("")),
        ("'a1b2c3'.findAll('[0-9]').size()", Value::Int(3)),
        (
            "'a1b2c3'.findAll('[0-9]', 2)",
            Value::List(Arc::new(vec![Value::from("1"), Value::from("2")])),
        ),
        // urls
        (
            "url('https://example.com:80/path?k=v&k=w').getScheme()",
            Value::from("https"),
        ),
        (
            "url('https://example.com:80/path').getHost()",
            Value::from("example.com:80"),
        ),
        (
            "url('https://[::1]:80/path').getHostname()",
            Value::from("::1"),
        ),
        (
            "url('https://example.com:80/path').getPort()",
            Value::from("80"),
        ),
        (
            "url('https://example.com/a%20b').getEscapedPath()",
            Value::from("/a%20b"),
        ),
        (
            "url('https://example.com/?k=v&k=w').getQuery()['k'].size()",
            Value::Int(2),
        ),
        ("isURL('/absolute/path')", Value::Bool(true)),
        ("isURL('relative')", Value::Bool(false)),
        // ip and cidr
        ("ip('10.0.0.1').family()", Value::Int(4)),
        ("ip('::1').isLoopback()", Value::Bool(true)),
        ("ip('fe80::1').isLinkLocalUnicast()", Value::Bool(true)),
        ("ip('224.0.0.1').isLinkLocalMulticast()", Value::Bool(true)),
        ("ip('192.168.0.1').isGlobalUnicast()", Value::Bool(true)),
        ("ip('0.0.0.0').isUnspecified()", Value::Bool(true)),
        ("isIP('1.2.3')", Value::Bool(false)),
        ("ip.isCanonical('2001:db8::1')", Value::Bool(true)),
        ("ip.isCanonical('2001:DB8::1')", Value::Bool(false)),
        ("string(ip('10.0.0.1'))", Value::from("10.0.0.1")),
        ("ip('10.0.0.1') == ip('10.0.0.1')", Value::Bool(true)),
        (
            "cidr('10.0.0.0/8').containsIP('10.1.2.3')",
            Value::Bool(true),
        ),
        (
            "cidr('10.0.0.0/8').containsIP(ip('11.0.0.1'))",
            Value::Bool(false),
        ),
        (
            "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')",
            Value::Bool(true),
        ),
        (
            "cidr('10.0.0.0/16').containsCIDR(cidr('10.0.0.0/8'))",
            Value::Bool(false),
        ),
        ("cidr('10.1.2.3/8').prefixLength()", Value::Int(8)),
        (
            "string(cidr('10.1.2.3/8').masked())",
            Value::from("10.0.0.0/8"),
        ),
        ("string(cidr('10.1.2.3/8').ip())", Value::from("10.1.2.3")),
        ("isCIDR('10.0.0.0/33')", Value::Bool(false)),
        // quantity
        ("quantity('1Ki').asInteger()", Value::Int(1024)),
        ("quantity('1.5').isInteger()", Value::Bool(false)),
        ("quantity('500m').asApproximateFloat()", Value::Float(0.5)),
        (
            "quantity('1Gi').isGreaterThan(quantity('1G'))",
            Value::Bool(true),
        ),
        (
            "quantity('1').add(quantity('500m')).compareTo(quantity('1500m'))",
            Value::Int(0),
        ),
        ("quantity('2').sub(1).asInteger()", Value::Int(1)),
        ("quantity('-1').sign()", Value::Int(-1)),
        ("isQuantity('1.5Gi')", Value::Bool(true)),
        ("isQuantity('1.5Xi')", Value::Bool(false)),
        ("quantity('1Ki') == quantity('1024')", Value::Bool(true)),
        // format
        (
            "format.dns1123Label().validate('my-name').hasValue()",
            Value::Bool(false),
        ),
        (
            "format.dns1123Label().validate('My_Name').value().size() > 0",
            Value::Bool(true),
        ),
        ("format.named('uuid').hasValue()", Value::Bool(true)),
        ("format.named('nonsense').hasValue()", Value::Bool(false)),
        (
            "format.named('labelValue').value().validate('a b').hasValue()",
            Value::Bool(true),
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr).as_ref(), Ok(want), "{expr}");
    }
}

#[test]
fn library_errors_are_upstreams() {
    let cases = [
        ("[].min()", "min called on empty list"),
        ("'a'.find('(')", "Illegal regex: "),
        ("url('relative')", "URL parse error during conversion from string: parse \"relative\": invalid URI for request"),
        ("ip('1.2.3')", "IP Address \"1.2.3\" parse error during conversion from string: ParseAddr(\"1.2.3\"): unable to parse IP"),
        ("ip('::ffff:1.2.3.4')", "IPv4-mapped IPv6 address \"::ffff:1.2.3.4\" is not allowed"),
        ("ip('fe80::1%eth0')", "IP address \"fe80::1%eth0\" with zone value is not allowed"),
        ("cidr('10.0.0.0')", "network address parse error during conversion from string: netip.ParsePrefix(\"10.0.0.0\"): no '/'"),
        ("quantity('1.5').asInteger()", "cannot convert value to integer"),
        ("quantity('x')", "quantities must match the regular expression"),
    ];
    for (expr, want) in cases {
        let got = eval(expr).unwrap_err();
        assert!(got.starts_with(want), "{expr}: {got}");
    }
}
