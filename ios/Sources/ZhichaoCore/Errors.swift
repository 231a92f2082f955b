extension ApiError {
    /// What to tell the person holding the phone, in Chinese, with the library's reason (in
    /// English, no personal data) where there is one, and what to do next. The same texts as
    /// Android's `ApiException.userMessage` (android/src/main/kotlin/cn/zhichao/core/Errors.kt;
    /// `ios/check.sh` compares them).
    public var userMessage: String {
        switch self {
        case let .Validation(reason):
            return "输入有误：\(reason)"
        case .NotFound:
            return "本机没有这份记录，请先同步"
        case .Unauthorized:
            return "无权执行此操作，或设备需重新注册"
        case .Conflict:
            return "记录已被更改（如已提交），请刷新后重试"
        case let .Storage(reason):
            return "手机存储出错：\(reason)"
        case let .Network(reason):
            return "网络不可用，请稍后重试；本机已保存的记录不会丢失（\(reason)）"
        case let .Internal(reason):
            return "内部错误：\(reason)"
        }
    }

    /// True when trying again later may succeed by itself (no signal, server busy).
    public var isTransient: Bool {
        if case .Network = self {
            return true
        }
        return false
    }
}
